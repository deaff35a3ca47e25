/**
 * The DSP kernels (firmware/kernels/arm/: conv, depthwise_conv, fully_connected with the Arm DSP
 * extension) give the portable kernels' answers, byte for byte, on random cases of every shape and
 * parameter, and on chosen accumulators at the edges of the requantization (firmware/test/kernel_test_dsp.c):
 *  - on the host, with the DSP instructions emulated in C (MT_DSP_EMULATE), under ASan/UBSan;
 *  - on the emulated boards (mps2-an386 Cortex-M4, mps2-an500 Cortex-M7, mps2-an505 Cortex-M33), in
 *    one image holding both kernels (`make DSP=1`, the portable sources included under other names),
 *    which also counts the instructions of model-like calls of each (QEMU -icount);
 *  - the check fails when one output byte differs;
 *  - the Makefile swaps in a twin only with DSP=1, and the twins build for DSP cores only (-Werror, with
 *    the boards' flags for M4, M7 and M33).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIRMWARE, loadMps2Target, makeFirmware, runHarnessOnBoard, writeMps2Project, type MakeResult } from '../emulate/mps2_firmware.ts';
import { buildKernelHarness, STRICT_FLAGS, type KernelHarness } from './c_harness.ts';

const BOARDS = ['mps2-an386', 'mps2-an500', 'mps2-an505'];
const TWINS = ['conv', 'depthwise_conv', 'fully_connected'];
const ARM_SOURCES = [...TWINS, 'dsp']; // dsp.c: the requantization the twins share
const HARNESS_MAIN = 'runtime/test/kernel_test_dsp.c';
const CC = 'arm-none-eabi-gcc';
const hasCrossCompiler = spawnSync(CC, ['--version']).status === 0;
const hasQemu = spawnSync(process.env.MCUTRAIN_QEMU ?? 'qemu-system-arm', ['--version']).status === 0;

interface Report {
  cases: Map<string, { cases: number; bad: number }>;
  bench: { kernel: string; shape: string; macs: number; portable: number; dsp: number; same: number }[];
  mismatches: string[];
}

function parseReport(text: string): Report {
  const report: Report = { cases: new Map(), bench: [], mismatches: [] };
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] === 'CASES') report.cases.set(words[1], { cases: Number(words[2]), bad: Number(words[3]) });
    if (words[0] === 'MISMATCH') report.mismatches.push(line);
    if (words[0] === 'BENCH') {
      const kv = Object.fromEntries(words.slice(3).map((w) => w.split('=')).map(([k, v]) => [k, Number(v)]));
      report.bench.push({ kernel: words[1], shape: words[2], macs: kv.macs, portable: kv.portable, dsp: kv.dsp, same: kv.same });
    }
  }
  return report;
}

function expectAllAgree(report: Report, cases: number, output: string): void {
  expect(report.mismatches, output).toEqual([]);
  for (const kernel of TWINS) expect(report.cases.get(kernel), `${kernel}\n${output}`).toEqual({ cases, bad: 0 });
  // and the requantization's own cases: chosen accumulators, shifts and multipliers (cases / 10 runs of 512)
  expect(report.cases.get('requantization'), output).toEqual({ cases: Math.floor(cases / 10), bad: 0 });
  expect(report.bench.length).toBe(11);
  for (const b of report.bench) expect(b.same, `${b.kernel} ${b.shape}`).toBe(1);
}

// The board images build (make DSP=1 for each board, all at once) while the host harness compiles.
let boardDir: string | undefined;
let boardBuilds: Promise<(readonly [string, MakeResult])[]> | undefined;
beforeAll(() => {
  if (!hasCrossCompiler) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-dsp-'));
  boardDir = dir;
  boardBuilds = Promise.all(BOARDS.map((board) => {
    const d = path.join(dir, board);
    writeMps2Project(d, loadMps2Target(board), { linkServer: false });
    cpSync(path.join(FIRMWARE, 'kernels'), path.join(d, 'runtime', 'kernels'), { recursive: true });
    mkdirSync(path.join(d, 'runtime', 'test'), { recursive: true });
    for (const f of ['kernel_test_dsp.c', 'harness_io.h']) cpSync(path.join(FIRMWARE, 'test', f), path.join(d, 'runtime', 'test', f));
    return makeFirmware(d, HARNESS_MAIN, ['DSP=1']).then((r) => [board, r] as const);
  }));
  boardBuilds.catch(() => undefined); // awaited (and reported) by the tests that use it
});
afterAll(async () => {
  await boardBuilds?.catch(() => undefined);
  if (boardDir) rmSync(boardDir, { recursive: true, force: true });
});

describe('DSP kernels against the portable ones on the host (instructions emulated in C, ASan/UBSan)', () => {
  let harness: KernelHarness;
  beforeAll(() => { harness = buildKernelHarness('dsp', ARM_SOURCES.map((k) => `arm/${k}`), ['-DMT_DSP_EMULATE']); });
  afterAll(() => harness?.cleanup());

  it('agree byte for byte on 4000 random cases of each kernel', () => {
    const output = harness.run(['2025', '4000', '0']);
    expectAllAgree(parseReport(output), 4000, output);
  });

  it('and the check fails when one output byte differs', () => {
    let failure = '';
    try {
      harness.run(['2025', '50', '1']);
    } catch (error) {
      failure = (error as Error).message;
    }
    expect(failure).toMatch(/exited 1/);
    expect(failure).toMatch(/MISMATCH conv case=25 /);
    expect(failure).toMatch(/CASES conv 50 1\n/);
  });
});

/** Runs the harness image on a board: sends seed, cases and flags, returns what it printed and its exit code. */
const runOnBoard = (board: string, elf: string, seed: number, cases: number, flags: number) =>
  runHarnessOnBoard(board, elf, [seed, cases, flags]); // a hang ends just inside the test budget, so its output is reported

describe.skipIf(!hasCrossCompiler)('the DSP harness images', () => {
  it('build with -Werror for M4, M7 and M33 from the twins, not the portable files (those come in through the harness)', async () => {
    for (const [board, result] of await boardBuilds!) {
      expect(result.ok, `building the DSP harness for ${board} failed:\n${result.log}`).toBe(true);
      for (const k of ARM_SOURCES) expect(result.log).toContain(`runtime/kernels/arm/${k}.c`);
      for (const k of TWINS) expect(result.log).not.toContain(` runtime/kernels/${k}.c`);
    }
  });
});

describe.skipIf(!hasCrossCompiler || !hasQemu)('DSP kernels against the portable ones on the emulated boards', () => {
  const elf = new Map<string, string>();
  beforeAll(async () => {
    for (const [board, result] of await boardBuilds!) {
      if (!result.ok) throw new Error(`building the DSP harness for ${board} failed:\n${result.log}`);
      elf.set(board, result.elf);
    }
  });

  it.each(BOARDS)('%s: agree byte for byte on 3000 random cases of each kernel, and count instructions', async (board) => {
    const run = await runOnBoard(board, elf.get(board)!, 77 + BOARDS.indexOf(board), 3000, 0);
    expect(run.code, `${run.output}\n${run.qemu}`).toBe(0);
    const report = parseReport(run.output);
    expectAllAgree(report, 3000, run.output);
    const rows = report.bench.map((b) => ({
      kernel: b.kernel, shape: b.shape, macs: b.macs, portable: b.portable, dsp: b.dsp,
      speedup: +(b.portable / b.dsp).toFixed(2), 'dsp/MAC': +(b.dsp / b.macs).toFixed(2),
    }));
    console.log(`instructions per kernel call on ${board} (QEMU -icount):`);
    console.table(rows);
    // every shape at least 1.8x fewer instructions: a slower twin is a regression, not a variant
    for (const b of report.bench) expect(b.dsp * 1.8, `${b.kernel} ${b.shape}`).toBeLessThan(b.portable);
  });

  it('a differing output byte fails the run (exit code 1) on the board too', async () => {
    const run = await runOnBoard('mps2-an500', elf.get('mps2-an500')!, 5, 40, 1);
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/MISMATCH conv case=20 /);
    expect(parseReport(run.output).cases.get('conv')).toEqual({ cases: 40, bad: 1 });
  });
});

describe.skipIf(!hasCrossCompiler)('choosing the DSP kernels at build time', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-dsp-make-'));
    writeMps2Project(dir, loadMps2Target('mps2-an500'), { linkServer: true });
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const compileLine = (...vars: string[]) => {
    const r = spawnSync('make', ['-n', '-B', '-C', dir, '--no-print-directory', 'firmware.elf', ...vars], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.split('\n').find((l) => l.startsWith(CC))!;
  };

  it('make DSP=0 builds the portable kernels; DSP=1, the default on a DSP core, builds each arm/ twin in place of its portable file', () => {
    const portable = compileLine('DSP=0');
    for (const k of TWINS) expect(portable).toContain(` runtime/kernels/${k}.c`);
    expect(portable).not.toContain('runtime/kernels/arm/');
    for (const dsp of [compileLine(), compileLine('DSP=1')]) { // mps2-an500 has "dsp": true
      for (const k of ARM_SOURCES) expect(dsp).toContain(` runtime/kernels/arm/${k}.c`);
      for (const k of TWINS) expect(dsp).not.toContain(` runtime/kernels/${k}.c`);
      for (const k of ['add', 'pooling', 'softmax']) expect(dsp).toContain(` runtime/kernels/${k}.c`); // no twin: unchanged
    }
  });

  it('the twins compile freestanding (soft-float M4: no library headers at all), and refuse a core without the DSP extension', () => {
    const compilerIncludes = spawnSync(CC, ['-print-file-name=include'], { encoding: 'utf8' }).stdout.trim();
    const compile = (kernel: string, cpu: string[]) => spawnSync(CC, [
      ...STRICT_FLAGS, '-mthumb', ...cpu, '-ffreestanding', '-nostdinc', '-isystem', compilerIncludes,
      `-I${path.join(FIRMWARE, 'include')}`, '-c', path.join(FIRMWARE, 'kernels', 'arm', `${kernel}.c`), '-o', path.join(dir, `${kernel}.o`),
    ], { encoding: 'utf8' });
    for (const kernel of ARM_SOURCES) {
      const r = compile(kernel, ['-mcpu=cortex-m4']);
      expect(r.stderr, kernel).toBe('');
      expect(r.status).toBe(0);
      for (const cpu of ['-mcpu=cortex-m0plus', '-mcpu=cortex-m33+nodsp']) {
        const refused = compile(kernel, [cpu]);
        expect(refused.status, `${kernel} ${cpu}`).not.toBe(0);
        expect(refused.stderr).toMatch(/needs the Arm DSP extension .*make DSP=0/);
      }
    }
  });
});
