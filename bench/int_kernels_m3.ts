/**
 * Instructions of the training kernels without an FPU (`npx tsx bench/int_kernels_m3.ts`): one layer
 * at a time on the emulated Cortex-M3 (mps2-an385, QEMU -icount, built soft-float), with float32
 * gradients (the float engine), int16 gradients with float sums (`--grad i16`) and the integer-only
 * kernels (train_int.h), from firmware/test/kernel_bench_int.c. A preview of issue 12's bench target
 * (instructions per training step, integer vs the float engine on the same M3), kernel by kernel.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FIRMWARE, loadMps2Target, makeFirmware, runHarnessOnBoard, writeMps2Project } from '../test/emulate/mps2_firmware.ts';

const BOARD = 'mps2-an385';
const dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-bench-int-'));
try {
  writeMps2Project(dir, loadMps2Target(BOARD), { linkServer: false });
  cpSync(path.join(FIRMWARE, 'kernels'), path.join(dir, 'runtime', 'kernels'), { recursive: true });
  mkdirSync(path.join(dir, 'runtime', 'test'), { recursive: true });
  for (const f of ['kernel_bench_int.c', 'harness_io.h']) cpSync(path.join(FIRMWARE, 'test', f), path.join(dir, 'runtime', 'test', f));
  const built = await makeFirmware(dir, 'runtime/test/kernel_bench_int.c');
  if (!built.ok) throw new Error(`building the bench image failed:\n${built.log}`);
  const run = await runHarnessOnBoard(BOARD, built.elf, []);
  if (run.code !== 0 || !run.output.includes('DONE')) throw new Error(`the bench image failed (exit ${run.code}):\n${run.output}\n${run.qemu}`);
  const rows = ['| kernel | float32 | int16, float sums | integer-only | float32 / integer |', '| --- | ---: | ---: | ---: | ---: |'];
  const totals = [0, 0, 0];
  for (const line of run.output.split('\n').filter((l) => l.startsWith('BENCH '))) {
    const [, name, ...counts] = line.trim().split(/\s+/);
    const [f32, s16, i16] = counts.map(Number);
    [f32, s16, i16].forEach((v, i) => { totals[i] += v; });
    rows.push(`| ${name} | ${f32.toLocaleString('en-US')} | ${s16.toLocaleString('en-US')} | ${i16.toLocaleString('en-US')} | ${(f32 / i16).toFixed(1)}x |`);
  }
  rows.push(`| all | ${totals.map((v) => v.toLocaleString('en-US')).join(' | ')} | ${(totals[0] / totals[2]).toFixed(1)}x |`);
  console.log(`Instructions per kernel call on the emulated Cortex-M3 (${BOARD}, soft-float):\n${rows.join('\n')}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
