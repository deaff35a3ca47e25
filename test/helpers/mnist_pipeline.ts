/**
 * Post-training quantization on real data, end to end: a small float CNN trained on the MNIST digits
 * the `mnist` package ships (tfjs-core, CPU), copied into an IR graph with TFLite layouts, written as a
 * float .tflite, quantized by mcutrain (min/max calibration), compiled for the host, built, and run
 * image by image on the generated int8 engine. Shared by experiments/mnist_ptq.ts (the full run) and
 * test/quantize/mnist_ptq.test.ts (a reduced run), so both measure the same pipeline.
 *
 * Everything is seeded: the train/test split, the weight initialization (NetBuilder's Kaiming stream),
 * the batch order; tfjs' CPU kernels are deterministic, so a run reproduces exactly.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildProjectAsync } from '../../src/build/build_project.ts';
import { nextTurn } from '../../src/util/event_loop.ts';
import { writeTflite } from '../../src/export/write_tflite.ts';
import type { Graph } from '../../src/ir/graph.ts';
import { bytesOf, readFloat32 } from '../../src/ir/tensor_data.ts';
import { openProjectDevice } from '../../src/link/connect.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { calibrate } from '../../src/quantize/calibrate.ts';
import { createFloatReference } from '../../src/quantize/float_reference.ts';
import { quantizeGraph, type QuantizeOptions } from '../../src/quantize/quantize_graph.ts';
import { seededUniform } from '../../src/util/random.ts';
import { NetBuilder } from '../../src/zoo/net_builder.ts';
import { registerTrainingGradients, softmaxCrossEntropy } from './tfjs_gradients.ts';

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;
export const CLASSES = 10;

export interface Digit {
  pixels: Float32Array; // 784 values in [0, 1], row-major (NHWC with C = 1)
  label: number;
}

/** All 10,000 digits of the `mnist` package, in class order. */
export function loadDigits(): Digit[] {
  const require = createRequire(import.meta.url);
  const digits: Digit[] = [];
  for (let label = 0; label < CLASSES; label++) {
    const raw = (require(`mnist/src/digits/${label}.json`) as { data: number[] }).data;
    for (let i = 0; i + PIXELS <= raw.length; i += PIXELS) digits.push({ pixels: Float32Array.from(raw.slice(i, i + PIXELS)), label });
  }
  return digits;
}

/** Fisher-Yates with the repo's seeded generator. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const next = seededUniform(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export function split(digits: readonly Digit[], trainCount: number, testCount: number, seed: number): { train: Digit[]; test: Digit[] } {
  const all = shuffled(digits, seed);
  if (trainCount + testCount > all.length) throw new Error(`${trainCount} + ${testCount} digits asked, ${all.length} available`);
  return { train: all.slice(0, trainCount), test: all.slice(trainCount, trainCount + testCount) };
}

/**
 * conv 3x3x8 s2 ReLU -> conv 3x3x16 s2 ReLU -> flatten -> FC 10 (logits), NHWC [1, 28, 28, 1].
 * The initial weights are NetBuilder's seeded Kaiming draws.
 */
export function buildMnistGraph(seed: number): Graph {
  const b = new NetBuilder('mnist_cnn', seed);
  const x = b.input([1, SIDE, SIDE, 1]);
  const c1 = b.conv(x, { out: 8, kernel: 3, stride: 2, padding: 'SAME', activation: 'RELU', name: 'conv1' });
  const c2 = b.conv(c1, { out: 16, kernel: 3, stride: 2, padding: 'SAME', activation: 'RELU', name: 'conv2' });
  const f = b.flatten(c2, 'flatten');
  const logits = b.fullyConnected(f, CLASSES, 'NONE', 'logits');
  return b.graph([logits]);
}

const tensorId = (graph: Graph, name: string): number => {
  const t = graph.tensors.find((t) => t.name === name);
  if (!t) throw new Error(`no tensor '${name}' in ${graph.name}`);
  return t.id;
};

/** The trainable parameters in tfjs layouts: conv filters HWIO, FC weights [in, out]. */
interface Params {
  w1: tf.Variable; b1: tf.Variable;
  w2: tf.Variable; b2: tf.Variable;
  w3: tf.Variable; b3: tf.Variable;
}

function paramsFromGraph(graph: Graph): Params {
  const read = (name: string) => {
    const t = graph.tensors[tensorId(graph, name)];
    return tf.tensor(readFloat32(t), t.shape, 'float32');
  };
  return tf.tidy(() => ({
    w1: tf.variable(tf.transpose(read('conv1/weights'), [1, 2, 3, 0])), // OHWI -> HWIO
    b1: tf.variable(read('conv1/bias')),
    w2: tf.variable(tf.transpose(read('conv2/weights'), [1, 2, 3, 0])),
    b2: tf.variable(read('conv2/bias')),
    w3: tf.variable(tf.transpose(read('logits/weights'))), // [out, in] -> [in, out]
    b3: tf.variable(read('logits/bias')),
  }));
}

/** A copy of `graph` with the trained parameters written back in TFLite layouts. */
function graphWithParams(graph: Graph, p: Params): Graph {
  const tensors = graph.tensors.map((t) => ({ ...t }));
  const put = (name: string, value: tf.Tensor) => {
    const id = tensorId(graph, name);
    const data = value.dataSync() as Float32Array;
    if (data.length !== tensors[id].shape.reduce((a, b) => a * b, 1)) throw new Error(`size mismatch for '${name}'`);
    tensors[id] = { ...tensors[id], data: bytesOf(Float32Array.from(data)) };
    value.dispose();
  };
  put('conv1/weights', tf.transpose(p.w1, [3, 0, 1, 2])); // HWIO -> OHWI
  put('conv1/bias', p.b1.clone());
  put('conv2/weights', tf.transpose(p.w2, [3, 0, 1, 2]));
  put('conv2/bias', p.b2.clone());
  put('logits/weights', tf.transpose(p.w3)); // [in, out] -> [out, in]
  put('logits/bias', p.b3.clone());
  return { ...graph, tensors };
}

function forward(p: Params, x: tf.Tensor4D): tf.Tensor2D {
  const h1 = tf.relu(tf.add(tf.conv2d(x, p.w1 as tf.Tensor4D, 2, 'same'), p.b1));
  const h2 = tf.relu(tf.add(tf.conv2d(h1 as tf.Tensor4D, p.w2 as tf.Tensor4D, 2, 'same'), p.b2));
  const flat = tf.reshape(h2, [x.shape[0], -1]) as tf.Tensor2D;
  return tf.add(tf.matMul(flat, p.w3 as tf.Tensor2D), p.b3) as tf.Tensor2D;
}

export function batchTensor(digits: readonly Digit[]): tf.Tensor4D {
  const data = new Float32Array(digits.length * PIXELS);
  digits.forEach((d, i) => data.set(d.pixels, i * PIXELS));
  return tf.tensor4d(data, [digits.length, SIDE, SIDE, 1]);
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  onEpoch?: (epoch: number, loss: number) => void;
}

export interface TrainedModel {
  /** The float IR graph holding the trained weights. */
  graph: Graph;
  /** tfjs logits for `digits` (row-major [n, 10]). */
  logits(digits: readonly Digit[]): Float32Array;
  dispose(): void;
}

export async function initTf(): Promise<void> {
  tf.env().set('PROD', true);
  if (tf.getBackend() !== 'cpu' && !(await tf.setBackend('cpu'))) throw new Error('tfjs CPU backend unavailable');
  registerTrainingGradients();
}

/**
 * Adam on `vars` over `opts.epochs` passes of `digits` in batches, each pass in its own seeded order;
 * `batchLoss` gives a batch's loss (run under the optimizer's gradient tape). The float training of
 * the MNIST CNN and of the transfer net's pretraining.
 */
export async function adamEpochs(digits: readonly Digit[], opts: TrainOptions, vars: tf.Variable[],
  batchLoss: (x: tf.Tensor4D, labels: number[]) => tf.Scalar): Promise<void> {
  const optimizer = tf.train.adam(opts.learningRate);
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    const order = shuffled(digits, opts.seed * 1000 + epoch + 1);
    let lossSum = 0;
    let batches = 0;
    for (let start = 0; start < order.length; start += opts.batchSize) {
      const batch = order.slice(start, start + opts.batchSize);
      const x = batchTensor(batch);
      const loss = optimizer.minimize(() => batchLoss(x, batch.map((d) => d.label)), true, vars);
      lossSum += (await loss!.data())[0];
      batches++;
      loss!.dispose();
      x.dispose();
      await nextTurn();
    }
    opts.onEpoch?.(epoch, lossSum / batches);
  }
  optimizer.dispose();
}

/** Trains the CNN with Adam on softmax cross-entropy, batches in a seeded order. */
export async function trainMnist(train: readonly Digit[], opts: TrainOptions): Promise<TrainedModel> {
  await initTf();
  const initial = buildMnistGraph(opts.seed);
  const p = paramsFromGraph(initial);
  const vars = [p.w1, p.b1, p.w2, p.b2, p.w3, p.b3];
  await adamEpochs(train, opts, vars,
    (x, labels) => softmaxCrossEntropy(forward(p, x), tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES)));
  const graph = graphWithParams(initial, p);
  return {
    graph,
    logits(digits) {
      const out = new Float32Array(digits.length * CLASSES);
      for (let start = 0; start < digits.length; start += 500) {
        const chunk = digits.slice(start, start + 500);
        const values = tf.tidy(() => forward(p, batchTensor(chunk)).dataSync() as Float32Array);
        out.set(values, start * CLASSES);
      }
      return out;
    },
    dispose() {
      for (const v of vars) v.dispose();
    },
  };
}

export function argmax(values: ArrayLike<number>, offset = 0, n = CLASSES): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (values[offset + i] > values[offset + best]) best = i;
  return best;
}

export function accuracyOfLogits(logits: Float32Array, digits: readonly Digit[]): number {
  let correct = 0;
  digits.forEach((d, i) => { if (argmax(logits, i * CLASSES) === d.label) correct++; });
  return correct / digits.length;
}

/** Largest |IR float forward - tfjs| over `digits` (the layout check of the weight copy). */
export async function maxIrDeviation(model: TrainedModel, digits: readonly Digit[]): Promise<number> {
  const ref = await createFloatReference(model.graph);
  const want = model.logits(digits);
  let worst = 0;
  try {
    digits.forEach((d, i) => {
      const got = ref.run([d.pixels]).get(model.graph.outputs[0])!;
      for (let k = 0; k < CLASSES; k++) worst = Math.max(worst, Math.abs(got[k] - want[i * CLASSES + k]));
    });
  } finally {
    ref.dispose();
  }
  return worst;
}

/** An image as the int8 model's input bytes: round(x / scale) + zero point, saturated to int8. */
export function quantizeImage(pixels: Float32Array, q: { scale: number; zeroPoint: number }): Uint8Array {
  const out = new Int8Array(pixels.length);
  for (let k = 0; k < pixels.length; k++) out[k] = Math.max(-128, Math.min(127, Math.round(pixels[k] / q.scale) + q.zeroPoint));
  return new Uint8Array(out.buffer);
}

export interface EngineResult {
  accuracy: number;
  /** Test images on which the engine's class differs from the float model's. */
  disagreements: number;
  quantizeMs: number;
  compileMs: number;
  buildMs: number;
  inferMs: number;
  inputScale: number;
  inputZeroPoint: number;
}

/**
 * Writes the float model to `work/<name>.tflite`, quantizes it (min/max over `calibration`), compiles
 * the int8 model for the host, builds it and runs every test image on the engine.
 */
export async function runQuantizedOnEngine(graph: Graph, calibration: readonly Digit[], test: readonly Digit[],
  floatLogits: Float32Array, work: string, name: string, options: QuantizeOptions = {}): Promise<EngineResult> {
  writeFileSync(path.join(work, `${name}_float.tflite`), writeTflite(graph));
  let t = performance.now();
  const ranges = await calibrate(graph, calibration.map((d) => [d.pixels]), { method: 'minmax' });
  const quantized = quantizeGraph(graph, ranges, options);
  const file = path.join(work, `${name}.tflite`);
  writeFileSync(file, writeTflite(quantized));
  const quantizeMs = performance.now() - t;

  t = performance.now();
  const dir = path.join(work, name);
  const { manifest } = compileModel({ modelPath: file, target: 'host', outDir: dir });
  const compileMs = performance.now() - t;
  t = performance.now();
  await buildProjectAsync(dir);
  const buildMs = performance.now() - t;

  const input = manifest.inputs[0];
  const output = manifest.outputs[0];
  if (input.dtype !== 'int8' || output.dtype !== 'int8') throw new Error(`expected int8 I/O, got ${input.dtype} -> ${output.dtype}`);
  const device = await openProjectDevice(dir, manifest, { timeoutMs: 30_000 });
  t = performance.now();
  let correct = 0;
  let disagreements = 0;
  try {
    for (let i = 0; i < test.length; i++) {
      const d = test[i];
      const reply = await device.infer(quantizeImage(d.pixels, input));
      const out = new Int8Array(reply.buffer, reply.byteOffset, CLASSES);
      const cls = argmax(out);
      if (cls === d.label) correct++;
      if (cls !== argmax(floatLogits, i * CLASSES)) disagreements++;
    }
  } finally {
    await device.close();
  }
  return {
    accuracy: correct / test.length, disagreements, quantizeMs, compileMs, buildMs, inferMs: performance.now() - t,
    inputScale: input.scale, inputZeroPoint: input.zeroPoint,
  };
}
