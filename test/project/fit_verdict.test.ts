/**
 * One verdict on whether a build fits its target, from one function, everywhere: compile refuses an
 * inference or training build that cannot fit (before anything is written), plan exits non-zero with
 * the same verdict (printed and in --json), and the remedies offered are checked: following one makes
 * the build fit with the memory the remedy named.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeTflite } from '../../src/export/write_tflite.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { buildZooModel } from '../../src/zoo/zoo.ts';
import { cliAsync as cli } from '../helpers/cli.ts';
import { model, tempDir } from '../helpers/paths.ts';

const BOARD = 'nrf52840-dk'; // 256 KiB of SRAM

describe('the fit verdict', () => {
  it('compile refuses an inference model over the SRAM, and --patches auto, which the hint checked, makes it fit', async () => {
    const dir = tempDir('fit');
    const file = path.join(dir, 'mbv2.tflite');
    // A 304 KiB arena at 144x144 (at 128x128 its 240 KiB now fit: no input copy in the link, a 4 KiB stack).
    writeFileSync(file, writeTflite(await buildZooModel('mobilenetv2-w0.35', { int8: true, input: [144, 144, 3] })));
    const out = path.join(dir, 'project');
    const r = await cli('compile', file, '--target', BOARD, '-o', out);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`does not fit ${BOARD}: the inference build needs \\d+ B of SRAM but ${BOARD} has 262144 B`));
    const promised = r.err.match(/hint: --patches auto \(the first \d+ operators as \d+x\d+ patches\) needs ([\d.]+) KiB of SRAM, which fits/);
    expect(promised).not.toBeNull();
    expect(existsSync(out)).toBe(false);

    const patched = await cli('compile', file, '--target', BOARD, '--patches', 'auto', '-o', out);
    expect(patched.err).toBe('');
    expect(patched.code).toBe(0);
    expect(patched.out).toContain(`fits ${BOARD}: SRAM ${promised![1]} KiB of 256.0 KiB`);
    const fit = compileModel({ modelPath: file, target: BOARD, outDir: path.join(dir, 'api'), patches: 'auto' }).fit;
    expect(fit.fits).toBe(true);
    expect((fit.sram.totalBytes / 1024).toFixed(1)).toBe(promised![1]);
  });

  it('plan over the SRAM exits non-zero with the verdict compile gives, in text and JSON; the momentum remedy fits', async () => {
    const dir = tempDir('fit');
    const scheme = 'bias:last=20,weights:layers=10,12,14,16,18,20,momentum=0.9';
    const json = path.join(dir, 'plan.json');
    const plan = await cli('plan', model('vww96_int8.tflite'), '--train', scheme, '--target', BOARD, '--json-out', json);
    expect(plan.code).toBe(1);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { fit: { fits: boolean; summary: string; remedies: string[] }; sram: { totalBytes: number } };
    expect(report.fit.fits).toBe(false);
    expect(report.fit.summary).toMatch(new RegExp(`^does not fit ${BOARD}: the training build needs ${report.sram.totalBytes} B of SRAM`));
    expect(plan.out).toContain(`Verdict: ${report.fit.summary}`);
    expect(plan.err).toContain(`mcutrain: error: ${report.fit.summary}`);
    expect(plan.err).toContain(`hint: ${report.fit.remedies.join('; or ')}`);
    expect(plan.err).not.toMatch(/\n\s+at /);

    const compiled = await cli('compile', model('vww96_int8.tflite'), '--train', scheme, '--target', BOARD, '-o', path.join(dir, 'project'));
    expect(compiled.code).toBe(1);
    expect(compiled.err).toContain(`mcutrain: error: ${report.fit.summary}`);
    expect(existsSync(path.join(dir, 'project'))).toBe(false);

    const promised = report.fit.remedies.join('\n').match(/drop momentum \(--momentum 0\): ([\d.]+) KiB of SRAM, which fits/);
    expect(promised).not.toBeNull();
    const without = await cli('plan', model('vww96_int8.tflite'), '--train', scheme, '--momentum', '0', '--target', BOARD);
    expect(without.code).toBe(0);
    expect(without.out).toContain(`Verdict: fits ${BOARD}: SRAM ${promised![1]} KiB of 256.0 KiB`);
  });

  it('a host target has no limit', () => {
    const r = compileModel({ modelPath: model('vww96_int8.tflite'), target: 'host', outDir: path.join(tempDir('fit'), 'p'), train: { scheme: 'bias:last=28,momentum=0.9' } });
    expect(r.fit.fits).toBe(true);
    expect(r.fit.sram.capacityBytes).toBeNull();
    expect(r.fit.summary).toMatch(/^fits host/);
  });
});
