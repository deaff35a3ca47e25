/**
 * Gradient storage and in-place input gradients on the workload (`npx tsx bench/narrow_gradients.ts`):
 * MCUNet-5FPS (zoo, int8, 128x128) with TinyEngine's 49 KB scheme, compiled for mps2-an500 with each
 * `--grad` and with in-place depthwise input gradients on and off. Prints the planned training arena
 * and SRAM total, and instructions per training step on the emulated Cortex-M7 (QEMU -icount, portable
 * C, the median of BENCH_RUNS steps on the bench's fixed sample, labels alternating). The patch-based
 * early stage is chosen per build (`--patches auto`); BENCH_PATCHES=off runs it whole, so that the
 * instruction counts compare the gradient kernels alone (the stage's recomputed halos move with the arena).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeTflite } from '../src/export/write_tflite.ts';
import { compileModel } from '../src/project/compile_project.ts';
import { GRAD_TYPES } from '../src/train/scheme.ts';
import { buildZooModel } from '../src/zoo/zoo.ts';
import { inputBytesOf, ticksPerTrainStep, withDevice } from './emulated.ts';
import { PATCHES } from './training.ts';

const SCHEME = 'bias:last=21,weights:layers=24@1/4,27,30@1/2,42';
const work = path.join(tmpdir(), `mcutrain-bench-grad-${process.pid}`);
mkdirSync(work, { recursive: true });
try {
  const model = path.join(work, 'mc5.tflite');
  writeFileSync(model, writeTflite(await buildZooModel('mcunet-5fps', { int8: true })));
  const rows: string[] = [
    '| grad | in place | patch stage | training arena B | SRAM total B | forward MACs | instructions per step |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const grad of GRAD_TYPES) {
    for (const inPlace of [false, true]) {
      const dir = path.join(work, `${grad}-${inPlace}`);
      const { manifest, fit } = compileModel({ modelPath: model, target: 'mps2-an500', outDir: dir, train: { scheme: SCHEME, grad, inPlace }, patches: PATCHES });
      const steps = await withDevice(dir, manifest, true, (d) => ticksPerTrainStep(d, inputBytesOf(manifest)));
      const stage = manifest.patches ? `${manifest.patches.ops.length} ops ${manifest.patches.grid}x${manifest.patches.grid}` : 'whole';
      rows.push(`| ${grad} | ${inPlace ? 'yes' : 'no'} | ${stage} | ${manifest.training!.trainArenaBytes} | ${fit.sram.totalBytes} | ` +
        `${manifest.training!.macsForward} | ${steps} |`);
      process.stderr.write(`${rows[rows.length - 1]}\n`);
    }
  }
  console.log(rows.join('\n'));
} finally {
  rmSync(work, { recursive: true, force: true });
}
