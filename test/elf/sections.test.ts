/** The Flash/SRAM table of `mcutrain build` comes from our ELF reader; binutils' size is the independent check. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { compileModel } from '../../src/project/compile_project.ts';
import { buildProjectAsync } from '../../src/build/build_project.ts';
import { memoryUsage, readElfSections } from '../../src/elf/elf.ts';
import { model, tempDir } from '../helpers/paths.ts';

describe('ELF sections of a built firmware', () => {
  it('match arm-none-eabi-size section by section, and sum to the build report', async () => {
    const dir = path.join(tempDir('elf'), 'p');
    compileModel({ modelPath: model('micro_speech_int8.tflite'), target: 'mps2-an500', outDir: dir });
    const built = await buildProjectAsync(dir);
    const elf = path.join(dir, 'firmware.elf');
    const ours = readElfSections(new Uint8Array(readFileSync(elf)), elf);
    const size = spawnSync('arm-none-eabi-size', ['-A', elf], { encoding: 'utf8' }).stdout;
    const theirs = new Map(size.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 3 && /^\d+$/.test(f[1])).map((f) => [f[0], Number(f[1])]));
    for (const s of ours) expect(theirs.get(s.name), s.name).toBe(s.size);
    const usage = memoryUsage(ours);
    expect(built.memory).toMatchObject(usage);
    // The model's weights are in Flash and its arena in SRAM.
    expect(usage.flashBytes).toBeGreaterThan(16_784);
    expect(usage.ramBytes).toBeGreaterThan(5_968);
  });
});
