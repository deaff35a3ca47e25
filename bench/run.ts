/**
 * The benchmark suite (`npm run bench`): what the engine costs, in two sections —
 *   inference (bench/inference.ts): every int8 reference model's compile time, SRAM, Flash, MACs, host
 *     latency and instructions per inference on the emulated Cortex-M7;
 *   training (bench/training.ts): planned training memory of full, bias-only and budgeted sparse
 *     schemes with and without operator reordering, and instructions per training step.
 * Writes bench/results/<BENCH_NAME or latest>.json ({ rows, training }) and prints the tables.
 * No network; reproducible (instruction counts under QEMU -icount do not depend on the machine).
 * BENCH_QUICK=1: vww96 only, and written as quick.json (so latest.json keeps the whole suite).
 * BENCH_GRAD=i16|i8: every training scheme with narrow gradients (default f32; name the output with BENCH_NAME).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../src/util/fs_atomic.ts';
import { RUNS } from './emulated.ts';
import { formatInference, INFERENCE_MODELS, measureInference, type InferenceRow } from './inference.ts';
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
  const name = process.env.BENCH_NAME ?? (QUICK ? 'quick' : 'latest');
  const out = path.resolve(import.meta.dirname, 'results', `${name}.json`);
  const seconds = Math.round((performance.now() - started) / 1000);
  writeFileAtomic(out, JSON.stringify({
    date: new Date().toISOString(), node: process.version, runs: RUNS, seconds, rows, training: { notes: TRAINING_NOTES, models: training },
  }, null, 2) + '\n');
  console.log(formatInference(rows));
  console.log('\nTraining: planned memory (bytes; "memory" = arena + trained parameters + momentum)\n');
  console.log(formatTrainingMemory(training));
  console.log(`\nTraining: one sparse scheme per model on the emulated Cortex-M7 (mps2-an500)\n`);
  console.log(formatTrainingCompute(training));
  console.log('\nTraining: memory ratios against the paper\'s\n');
  console.log(formatTrainingAnchors(training));
  console.log(`\nwritten ${path.relative(process.cwd(), out)} in ${seconds} s`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
