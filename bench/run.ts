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
 * BENCH_GRAD=i16|i8: every training scheme with narrow gradients (default f32; name the output with BENCH_NAME).
 * BENCH_SECTIONS=training (or inference, linked): those sections only, written as <sections>.json;
 * BENCH_EMULATE=off: the training section's planner figures only, no emulated training step.
 * --report FILE (npm run bench -- --report bench.html): also the results as an HTML report (src/report/).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../src/util/fs_atomic.ts';
import { reportHtml } from '../src/report/report_html.ts';
import { RUNS } from './emulated.ts';
import { formatInference, INFERENCE_MODELS, measureInference, type InferenceRow } from './inference.ts';
import { formatLinkedSram, measureLinkedSram, type LinkedSramRow } from './linked_sram.ts';
import { measureTraining, TRAINING_MODELS, TRAINING_NOTES, trainingTargets, type TrainingModelFigures } from './training.ts';
import { formatTrainingAnchors, formatTrainingCompute, formatTrainingMemory, formatTrainingTargets } from './training_table.ts';

const MODELS_DIR = process.env.MCUTRAIN_MODELS ?? path.resolve(import.meta.dirname, '../../shared/models');
const QUICK = process.env.BENCH_QUICK === '1';
const QUICK_MODEL = 'vww96_int8.tflite';
const ALL_SECTIONS = ['inference', 'training', 'linked'];
const SECTIONS = (process.env.BENCH_SECTIONS ?? ALL_SECTIONS.join(',')).split(',');
if (SECTIONS.some((s) => !ALL_SECTIONS.includes(s))) throw new Error(`BENCH_SECTIONS takes ${ALL_SECTIONS.join(', ')} (comma-separated), not '${process.env.BENCH_SECTIONS}'`);
const EMULATE = process.env.BENCH_EMULATE !== 'off';
const REPORT = process.argv.includes('--report') ? process.argv[process.argv.indexOf('--report') + 1] : undefined;
if (process.argv.includes('--report') && !REPORT) throw new Error('--report takes the HTML file to write: npm run bench -- --report bench.html');

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

const work = path.join(tmpdir(), `mcutrain-bench-${process.pid}`);
mkdirSync(work, { recursive: true });
try {
  const started = performance.now();
  const rows: InferenceRow[] = [];
  for (const file of INFERENCE_MODELS.filter((f) => SECTIONS.includes('inference') && (!QUICK || f === QUICK_MODEL))) {
    log(file);
    rows.push(await measureInference(MODELS_DIR, file, work));
  }
  const training: TrainingModelFigures[] = [];
  for (const spec of TRAINING_MODELS.filter((s) => SECTIONS.includes('training') && (!QUICK || s.file === QUICK_MODEL))) {
    log(`training ${spec.name}`);
    training.push(await measureTraining(spec, MODELS_DIR, work, { emulate: EMULATE }));
  }
  const linkedSram: LinkedSramRow[] = [];
  if (SECTIONS.includes('linked') && !QUICK) {
    log('linked SRAM of the MCUNet-5FPS training images');
    linkedSram.push(...await measureLinkedSram(work));
  }
  const targets = trainingTargets(training);
  const partial = SECTIONS.length < ALL_SECTIONS.length || !EMULATE;
  const name = process.env.BENCH_NAME ?? (QUICK ? 'quick' : partial ? `${SECTIONS.join('+')}${EMULATE ? '' : '-planned'}` : 'latest');
  const out = path.resolve(import.meta.dirname, 'results', `${name}.json`);
  const seconds = Math.round((performance.now() - started) / 1000);
  const results = { date: new Date().toISOString(), node: process.version, runs: RUNS, seconds, rows, training: { notes: TRAINING_NOTES, models: training, targets }, linkedSram };
  writeFileAtomic(out, JSON.stringify(results, null, 2) + '\n');
  if (REPORT) writeFileAtomic(REPORT, reportHtml({ title: `mcutrain benchmarks (${name})`, bench: results }));
  if (rows.length > 0) console.log(formatInference(rows));
  if (training.length > 0) {
    console.log('\nTraining: planned memory (bytes; "memory" = arena + trained parameters + momentum; LB = lower bound)\n');
    console.log(formatTrainingMemory(training));
    if (EMULATE) {
      console.log(`\nTraining: one sparse scheme per model on the emulated Cortex-M7 (mps2-an500)\n`);
      console.log(formatTrainingCompute(training));
    }
    console.log('\nTraining: memory ratios against the paper\'s\n');
    console.log(formatTrainingAnchors(training));
    if (targets.length > 0) {
      console.log('\nTraining: issue 11\'s memory targets, as measured\n');
      console.log(formatTrainingTargets(targets));
    }
  }
  if (linkedSram.length > 0) {
    console.log('\nTraining: linked SRAM of MCUNet-5FPS\'s training images, TinyEngine\'s 49 KB scheme (bytes; ELF .data + .bss + stack; goal 128 KiB)\n');
    console.log(formatLinkedSram(linkedSram));
  }
  console.log(`\nwritten ${path.relative(process.cwd(), out)}${REPORT ? ` and ${REPORT}` : ''} in ${seconds} s`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
