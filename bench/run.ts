/**
 * The benchmark suite (`npm run bench`): what the engine costs, in two sections —
 *   inference (bench/inference.ts): every int8 reference model's compile time, SRAM, Flash, MACs, host
 *     latency and instructions per inference on the emulated Cortex-M7;
 *   training (bench/training.ts): planned training memory of full, bias-only and budgeted sparse
 *     schemes with and without operator reordering, and instructions per training step;
 *   linked SRAM (bench/linked_sram.ts): the SRAM of MCUNet-5FPS's linked training images (TinyEngine's
 *     49 KB scheme) for mps2-an500 and stm32f746g-disco, read from the ELF, beside the planned figure.
 * Writes bench/results/<BENCH_NAME or latest>.json ({ rows, training, linkedSram }) and prints the tables.
 * No network; reproducible (instruction counts under QEMU -icount do not depend on the machine).
 * BENCH_QUICK=1: vww96 only, no linked SRAM, and written as quick.json (so latest.json keeps the whole suite).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../src/util/fs_atomic.ts';
import { RUNS } from './emulated.ts';
import { formatInference, INFERENCE_MODELS, measureInference, type InferenceRow } from './inference.ts';
import { formatLinkedSram, measureLinkedSram, type LinkedSramRow } from './linked_sram.ts';
import { measureTraining, TRAINING_MODELS, TRAINING_NOTES, type TrainingModelFigures } from './training.ts';
import { formatTrainingAnchors, formatTrainingCompute, formatTrainingMemory } from './training_table.ts';

const MODELS_DIR = process.env.MCUTRAIN_MODELS ?? path.resolve(import.meta.dirname, '../../shared/models');
const QUICK = process.env.BENCH_QUICK === '1';
const QUICK_MODEL = 'vww96_int8.tflite';

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

const work = path.join(tmpdir(), `mcutrain-bench-${process.pid}`);
mkdirSync(work, { recursive: true });
try {
  const started = performance.now();
  const rows: InferenceRow[] = [];
  for (const file of INFERENCE_MODELS.filter((f) => !QUICK || f === QUICK_MODEL)) {
    log(file);
    rows.push(await measureInference(MODELS_DIR, file, work));
  }
  const training: TrainingModelFigures[] = [];
  for (const spec of TRAINING_MODELS.filter((s) => !QUICK || s.file === QUICK_MODEL)) {
    log(`training ${spec.name}`);
    training.push(await measureTraining(spec, MODELS_DIR, work, { emulate: true }));
  }
  const linkedSram: LinkedSramRow[] = [];
  if (!QUICK) {
    log('linked SRAM of the MCUNet-5FPS training images');
    linkedSram.push(...await measureLinkedSram(work));
  }
  const name = process.env.BENCH_NAME ?? (QUICK ? 'quick' : 'latest');
  const out = path.resolve(import.meta.dirname, 'results', `${name}.json`);
  const seconds = Math.round((performance.now() - started) / 1000);
  writeFileAtomic(out, JSON.stringify({
    date: new Date().toISOString(), node: process.version, runs: RUNS, seconds, rows, training: { notes: TRAINING_NOTES, models: training }, linkedSram,
  }, null, 2) + '\n');
  console.log(formatInference(rows));
  console.log('\nTraining: planned memory (bytes; "memory" = arena + trained parameters + momentum)\n');
  console.log(formatTrainingMemory(training));
  console.log(`\nTraining: one sparse scheme per model on the emulated Cortex-M7 (mps2-an500)\n`);
  console.log(formatTrainingCompute(training));
  console.log('\nTraining: memory ratios against the paper\'s\n');
  console.log(formatTrainingAnchors(training));
  if (linkedSram.length > 0) {
    console.log('\nTraining: linked SRAM of MCUNet-5FPS\'s training images, TinyEngine\'s 49 KB scheme (bytes; ELF .data + .bss + stack; goal 128 KiB)\n');
    console.log(formatLinkedSram(linkedSram));
  }
  console.log(`\nwritten ${path.relative(process.cwd(), out)} in ${seconds} s`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
