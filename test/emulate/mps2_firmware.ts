/**
 * Builds firmware for the MPS2 boards the way a generated project does: templates/Makefile.mps2.hbs
 * and templates/linker.ld.hbs rendered from the target file, a runtime/ copy of firmware/, then make.
 * The model is firmware/test/fake_model.c (for the link server), or none at all for a test harness
 * main such as firmware/test/mps2_test_main.c.
 */
import { spawn } from 'node:child_process';
import { qemuBoardOf, startQemu } from '../../src/emulate/qemu.ts';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderTemplate } from '../../src/codegen/templates.ts';
import { targetView } from '../../src/codegen/target_view.ts';
import { loadTarget, type McuTarget, type Target } from '../../src/targets/target.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FIRMWARE = path.join(ROOT, 'firmware');

export type Mps2Target = Target & McuTarget & { qemu: NonNullable<McuTarget['qemu']> };

export function loadMps2Target(name: string): Mps2Target {
  return loadTarget(name) as Mps2Target;
}

/** The view-model both templates take: exactly what codegen passes for an mps2 target. */
export function mps2View(t: Mps2Target) {
  return { ...targetView(t), version: 'test' };
}

export interface ProjectOptions {
  /** Serve the link over fake_model.c (true), or build a harness with no model, kernels or link. */
  linkServer: boolean;
  /** Overrides for the view-model (a smaller memory, say). */
  view?: Record<string, string | number | boolean>;
}

/** Writes a project folder for `target` into `dir`. */
export function writeMps2Project(dir: string, target: Mps2Target, opts: ProjectOptions): void {
  mkdirSync(dir, { recursive: true });
  const view = { ...mps2View(target), ...opts.view };
  writeFileSync(path.join(dir, 'Makefile'), renderTemplate('Makefile.mps2.hbs', view));
  writeFileSync(path.join(dir, 'linker.ld'), renderTemplate('linker.ld.hbs', view));
  const platform = [...(target.platformParts ?? []), target.platform].map((p) => `platform/${p}`);
  const parts = opts.linkServer ? ['include', 'kernels', 'link', ...platform] : ['include', ...platform];
  for (const part of parts) cpSync(path.join(FIRMWARE, part), path.join(dir, 'runtime', part), { recursive: true });
  writeFileSync(path.join(dir, 'model_weights.h'), '#ifndef MODEL_WEIGHTS_H\n#define MODEL_WEIGHTS_H\n#endif\n');
  writeFileSync(path.join(dir, 'model_weights.c'), '#include "model_weights.h"\n');
  if (opts.linkServer) cpSync(path.join(FIRMWARE, 'test', 'fake_model.c'), path.join(dir, 'model.c'));
  else writeFileSync(path.join(dir, 'model.c'), '/* a test harness: no model */\n#include "model_weights.h"\n');
  cpSync(path.join(FIRMWARE, 'test', 'mps2_test_main.c'), path.join(dir, 'mps2_test_main.c'));
}

export interface MakeResult {
  ok: boolean;
  log: string;
  elf: string;
}

/** Runs make in `dir` (asynchronously, so several boards build at once), with more make variables in `vars` (`DSP=1`). */
export function makeFirmware(dir: string, main?: string, vars: string[] = []): Promise<MakeResult> {
  const args = ['-C', dir, '--no-print-directory', ...(main ? [`MAIN=${main}`] : []), ...vars];
  return new Promise((resolve, reject) => {
    const child = spawn('make', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (c: Buffer) => { log += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { log += c.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ ok: code === 0, log, elf: path.join(dir, 'firmware.elf') }));
  });
}

/**
 * Runs a harness image on an emulated board: once it prints "ready", sends `words` (u32 each,
 * little-endian: seed, cases, flags); returns what it printed and its exit code. A hang is stopped
 * after `budgetMs`, with the output so far.
 */
export async function runHarnessOnBoard(board: string, elf: string, words: number[], budgetMs = 540_000) {
  const session = await startQemu({ ...qemuBoardOf(loadMps2Target(board)), kernel: elf });
  let output = '';
  let started = false;
  session.stream.on('data', (chunk: Buffer) => {
    output += chunk.toString('latin1');
    if (!started && output.includes('ready\n')) {
      started = true;
      const data = Buffer.alloc(4 * words.length);
      words.forEach((w, i) => data.writeUInt32LE(w, 4 * i));
      session.stream.write(data);
    }
  });
  const timer = setTimeout(() => void session.stop(), budgetMs);
  const exit = await session.exited;
  clearTimeout(timer);
  return { output, code: exit.code, qemu: session.output };
}
