/**
 * Transfer learning with Sparse Update, float against the int8 engine with and without QAS (issue 4;
 * Lin et al., "On-Device Training Under 256KB Memory", NeurIPS 2022, section 2.1): a small
 * MobileNet-style float net is pretrained on MNIST digits 0-4 (tfjs-core), quantized to int8 by
 * mcutrain (calibrate + quantizeGraph + writeTflite), then fine-tuned on digits 5-9 (labels 5..9 as
 * 0..4) with one sparse scheme, three ways over the same samples in the same order, SGD at batch 1:
 * (a) float SGD on the float graph in tfjs, updating only the scheme's tensors; (b) the int8 host engine
 * without QAS; (c) with QAS. Shared by experiments/transfer_qas.ts (the full run) and
 * test/experiments/transfer_qas.test.ts (a reduced run).
 */
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { buildProjectAsync } from '../../src/build/build_project.ts';
import { nextTurn } from '../../src/util/event_loop.ts';
import { writeTflite } from '../../src/export/write_tflite.ts';
import type { Graph } from '../../src/ir/graph.ts';
import { Device } from '../../src/link/device.ts';
import { openProjectDevice } from '../../src/link/connect.ts';
import { compileModel, type PatchMode } from '../../src/project/compile_project.ts';
import type { ProjectManifest } from '../../src/project/manifest.ts';
import { calibrate } from '../../src/quantize/calibrate.ts';
import { quantizeGraph } from '../../src/quantize/quantize_graph.ts';
import type { TrainingScheme } from '../../src/train/scheme.ts';
import { TrainingSession } from '../../src/session/training_session.ts';
import { NetBuilder } from '../../src/zoo/net_builder.ts';
import { invertedResidual } from '../../src/zoo/inverted_residual.ts';
import { sgdStep, TrainableGraph } from './graph_training.ts';
import { adamEpochs, argmax, batchTensor, initTf, loadDigits, quantizeImage, shuffled, SIDE, type Digit, type TrainOptions } from './mnist_pipeline.ts';

/** Classes of each task: digits 0-4 (source), 5-9 (target, labels shifted to 0-4). */
export const TASK_CLASSES = 5;

/**
 * 28x28x1 -> stem conv3x3 s2 8 ReLU6 -> [dw3x3 s2 8 ReLU6, pw 16] -> [pw 32 ReLU6, dw3x3 32 ReLU6, pw 16,
 * + residual ADD] -> pw 32 ReLU6 -> MEAN(H, W) -> FC 5 (logits); 7x7 after the first block. Weighted
 * layers 0..7 in execution order; -1 is the classifier, -2 the 32-channel head conv, -3 the residual
 * block's projection, -4 its depthwise conv. Small so that tfjs-core on the CPU pretrains it in about
 * 25 s per epoch of 4500 images.
 */
export function buildTransferNet(seed: number): Graph {
  const b = new NetBuilder('transfer_mbnet', seed);
  let x = b.input([1, SIDE, SIDE, 1]);
  x = b.conv(x, { out: 8, kernel: 3, stride: 2, activation: 'RELU6', name: 'stem' });
  x = invertedResidual(b, x, { mid: 8, kernel: 3, stride: 2, out: 16 }, 'block1');
  x = invertedResidual(b, x, { mid: 32, kernel: 3, stride: 1, out: 16, residual: true }, 'block2');
  x = b.conv(x, { out: 32, kernel: 1, activation: 'RELU6', name: 'head' });
  const logits = b.fullyConnected(b.mean(x, false, 'pool'), TASK_CLASSES, 'NONE', 'classifier');
  return b.graph([logits]);
}

/**
 * The one sparse scheme of the experiment: the biases of the last 4 weighted layers (through the
 * residual ADD) and the weights of the head conv and the classifier.
 */
export const SCHEME = 'bias:last=4,weights:layers=-1,-2@1';

export interface TransferConfig {
  counts: TransferCounts;
  pretrain: Omit<TrainOptions, 'seed' | 'onEpoch'>;
  /** Images of the pretraining set the quantizer calibrates on. */
  calibration: number;
  /**
   * Learning rates tried per method (the chosen one has the lowest online loss); the quick run takes
   * the first. Every grid holds the float grid, so all methods are also compared at one lr (the paper's setting).
   */
  lrGrid: { float: number[]; qas: number[]; noQas: number[] };
}

/**
 * The full run and the reduced one (the test, `--quick`). The no-QAS grid reaches far higher: without
 * QAS a weight moves by lr * s_W^2 * G in real terms and a bias by lr * (s_W * s_x)^2 * G, four and
 * eight orders of magnitude below float SGD at the same lr (docs/training.md, "Updates, QAS").
 */
export const FULL: TransferConfig = {
  counts: { pretrain: 4500, sourceTest: 500, fineTune: 1500, targetTest: 1000 },
  pretrain: { epochs: 4, batchSize: 32, learningRate: 0.01 },
  calibration: 200,
  lrGrid: { float: [0.1, 0.03, 0.01, 0.3], qas: [0.1, 0.03, 0.01, 0.3], noQas: [0.1, 0.03, 0.01, 0.3, 3, 30, 300, 3000] },
};

export const QUICK: TransferConfig = {
  counts: { pretrain: 1500, sourceTest: 200, fineTune: 400, targetTest: 200 },
  pretrain: { epochs: 3, batchSize: 32, learningRate: 0.01 },
  calibration: 100,
  // One lr for all (the paper's setting); at 0.1 the int8 logits saturate (see experiments/results/transfer_qas.json).
  lrGrid: { float: [0.03], qas: [0.03], noQas: [0.03] },
};

export interface TransferData {
  /** Digits 0-4: pretraining set and its held-out test set. */
  pretrain: Digit[];
  sourceTest: Digit[];
  /** Digits 5-9 with labels 0-4: the fine-tuning samples (in training order) and the held-out test set. */
  fineTune: Digit[];
  targetTest: Digit[];
}

export interface TransferCounts {
  pretrain: number;
  sourceTest: number;
  fineTune: number;
  targetTest: number;
}

/** Seeded, disjoint splits of the `mnist` package's digits by task. */
export function transferData(counts: TransferCounts, seed: number): TransferData {
  const digits = loadDigits();
  const source = shuffled(digits.filter((d) => d.label < TASK_CLASSES), seed);
  const target = shuffled(digits.filter((d) => d.label >= TASK_CLASSES).map((d) => ({ ...d, label: d.label - TASK_CLASSES })), seed + 1);
  const take = (all: Digit[], a: number, b: number, what: string) => {
    if (a + b > all.length) throw new Error(`${what}: ${a} + ${b} digits asked, ${all.length} available`);
    return [all.slice(0, a), all.slice(a, a + b)];
  };
  const [pretrain, sourceTest] = take(source, counts.pretrain, counts.sourceTest, 'digits 0-4');
  const [fineTune, targetTest] = take(target, counts.fineTune, counts.targetTest, 'digits 5-9');
  return { pretrain, sourceTest, fineTune, targetTest };
}

export interface Score {
  accuracy: number;
  /** Mean softmax cross-entropy (natural log). */
  loss: number;
}

/** Accuracy and mean loss of the float model on `digits`, in batches. */
export function evaluateFloat(model: TrainableGraph, digits: readonly Digit[]): Score {
  let correct = 0;
  let lossSum = 0;
  for (let start = 0; start < digits.length; start += 250) {
    const chunk = digits.slice(start, start + 250);
    const logits = tf.tidy(() => model.forward(batchTensor(chunk)).dataSync() as Float32Array);
    chunk.forEach((d, i) => {
      const row = logits.subarray(i * TASK_CLASSES, (i + 1) * TASK_CLASSES);
      if (argmax(row, 0, TASK_CLASSES) === d.label) correct++;
      const max = Math.max(...row);
      lossSum += Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) + max - row[d.label];
    });
  }
  return { accuracy: correct / digits.length, loss: lossSum / digits.length };
}

/** Adam on every parameter, batches in a seeded order; returns the trained model (caller disposes). */
export async function pretrain(graph: Graph, digits: readonly Digit[], opts: TrainOptions): Promise<TrainableGraph> {
  await initTf();
  const model = new TrainableGraph(graph);
  await adamEpochs(digits, opts, model.allVariables(), (x, labels) => model.loss(x, labels));
  return model;
}

/** The int8 model: min/max calibration on `calibration`, mcutrain's quantizer, written to `file`. */
export async function quantizeToFile(graph: Graph, calibration: readonly Digit[], file: string): Promise<Graph> {
  const ranges = await calibrate(graph, calibration.map((d) => [d.pixels]), { method: 'minmax' });
  const quantized = quantizeGraph(graph, ranges);
  writeFileSync(file, writeTflite(quantized));
  return quantized;
}

export interface FineTuneResult {
  lr: number;
  before: Score;
  after: Score;
  /** Loss of each step, measured before that step's update (online loss: the sample is unseen then). */
  stepLosses: number[];
  /** Mean of stepLosses over the last quarter of the steps. */
  finalMeanLoss: number;
  ms: number;
}

/** Mean of the losses from fraction `from` of the way on (default 0.75: the last quarter; 0: all). */
export const finalMeanLoss = (losses: readonly number[], from = 0.75): number => {
  const last = losses.slice(Math.floor(losses.length * from));
  return last.reduce((s, v) => s + v, 0) / last.length;
};

/** (a) Float SGD, batch 1, on the scheme's tensors of a fresh copy of the float graph. */
export async function fineTuneFloat(graph: Graph, scheme: TrainingScheme, order: readonly Digit[], test: readonly Digit[], lr: number): Promise<FineTuneResult> {
  const started = performance.now();
  const model = new TrainableGraph(graph);
  try {
    const params = model.sparseParameters(scheme);
    const before = evaluateFloat(model, test);
    const stepLosses: number[] = [];
    for (const d of order) {
      const x = batchTensor([d]);
      stepLosses.push(sgdStep(model, params, x, [d.label], lr));
      x.dispose();
      await nextTurn();
    }
    const after = evaluateFloat(model, test);
    return { lr, before, after, stepLosses, finalMeanLoss: finalMeanLoss(stepLosses), ms: performance.now() - started };
  } finally {
    model.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------
// The int8 engine (host build)

export interface EngineMemory {
  trainArenaBytes: number;
  trainLowerBoundBytes: number;
  paramBytes: number;
  momentumBytes: number;
  /** The inference arena and the whole arena the firmware reserves (max of training and inference). */
  inferenceArenaBytes: number;
  /** Constants left in Flash (frozen weights and the rest of the model's constant data). */
  flashConstBytes: number;
  macsForward: number;
  macsBackward: number;
}

export type EngineRun = FineTuneResult & { memory: EngineMemory; ticksPerStep: number };

/** A built training engine for `model` (an int8 .tflite), open on the host. */
export interface TrainingEngine {
  device: Device;
  /** The trained tensors as compiled (READ_PARAMS right after opening), to start every run from. */
  initialParams: Uint8Array;
  manifest: ProjectManifest;
  memory: EngineMemory;
  input: { scale: number; zeroPoint: number };
}

/**
 * Compiles `model` for the host with the training scheme, builds it and opens the engine (the caller
 * closes engine.device). `patches`: whether the frozen early stage may run patch by patch (compileModel's default with a scheme is 'auto').
 */
export async function openTrainingEngine(model: string, scheme: string, qas: boolean, dir: string, patches: PatchMode = 'auto'): Promise<TrainingEngine> {
  const { manifest } = compileModel({ modelPath: model, target: 'host', outDir: dir, train: { scheme, qas, momentum: 0 }, patches });
  const t = manifest.training;
  if (!t) throw new Error('compileModel wrote no training section in mcutrain.json: it does not take the `train` option yet');
  await buildProjectAsync(dir);
  const device = await openProjectDevice(dir, manifest, { timeoutMs: 30_000 });
  const input = manifest.inputs[0];
  return {
    device,
    initialParams: await device.readParams('params'),
    manifest,
    input,
    memory: {
      trainArenaBytes: t.trainArenaBytes,
      trainLowerBoundBytes: t.trainLowerBoundBytes,
      paramBytes: t.paramBytes,
      momentumBytes: t.momentumBytes,
      inferenceArenaBytes: manifest.arenaBytes,
      flashConstBytes: manifest.constBytes,
      macsForward: t.macsForward,
      macsBackward: t.macsBackward,
    },
  };
}

/**
 * (b) / (c): the int8 engine trains on `order` at batch 1 (SGD, no momentum), starting from the
 * .tflite's parameters (written back first, so one build serves every learning rate): a training
 * session of one epoch in the given order, `test` evaluated before and after.
 */
export async function fineTuneEngine(engine: TrainingEngine, order: readonly Digit[], test: readonly Digit[], lr: number): Promise<EngineRun> {
  const started = performance.now();
  await engine.device.writeParams('params', engine.initialParams);
  const samples = (digits: readonly Digit[]) => ({ samples: digits.map((d) => quantizeImage(d.pixels, engine.input)), labels: digits.map((d) => d.label) });
  const session = new TrainingSession({
    device: engine.device, train: samples(order), val: samples(test), epochs: 1, orders: [order.map((_, i) => i)],
    hyper: { lr, momentum: 0 }, evaluateBefore: true, stopWhenDiverged: false, // a diverging learning rate is a result of the sweep
  });
  await session.begin();
  const r = await session.run();
  const epoch = r.epochs[0];
  const stepLosses = r.steps.map((s) => s.loss);
  return {
    lr, before: { accuracy: r.before!.accuracy, loss: r.before!.loss }, after: { accuracy: epoch.valAccuracy!, loss: epoch.valLoss! }, stepLosses, finalMeanLoss: finalMeanLoss(stepLosses),
    ms: performance.now() - started, memory: engine.memory, ticksPerStep: epoch.ticksPerStep,
  };
}

/** Accuracy of the int8 model on each set of digits, on the inference-only engine (there before the training engine is). */
export async function int8InferenceAccuracy(model: string, sets: readonly (readonly Digit[])[], dir: string): Promise<number[]> {
  const { manifest } = compileModel({ modelPath: model, target: 'host', outDir: dir });
  await buildProjectAsync(dir);
  const device = await openProjectDevice(dir, manifest, { timeoutMs: 30_000 });
  try {
    const accuracies: number[] = [];
    for (const digits of sets) {
      let correct = 0;
      for (const d of digits) {
        const reply = await device.infer(quantizeImage(d.pixels, manifest.inputs[0]));
        if (argmax(new Int8Array(reply.buffer, reply.byteOffset, TASK_CLASSES), 0, TASK_CLASSES) === d.label) correct++;
      }
      accuracies.push(correct / digits.length);
    }
    return accuracies;
  } finally {
    await device.close();
  }
}
