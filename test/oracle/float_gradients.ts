/**
 * The float autodiff oracle the training engine's gradients are checked against (docs/training.md,
 * "Verification"): the int8 graph's float model, evaluated on tfjs-core and differentiated with
 * tf.grads.
 *
 * The float model: every constant dequantized (weights per channel along quant.axis, int32 biases with
 * their scale, int4 weights unpacked), the input dequantized, each operator as the float reference
 * computes it (src/quantize/float_reference.ts: TFLite padding and layouts) and its output clamped to
 * the real range of its int8 output, [s (act_min - zp), s (act_max - zp)], with act_min/act_max the
 * fused activation quantized as the lowering does (src/lower/common.ts activationRange). That is fake
 * quantization without rounding: the clamp passes a gradient exactly where the engine's clamp mask does,
 * rounding is the only difference. The fused activation itself is not applied in float, the clamp is it.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { McutrainError } from '../../src/errors.ts';
import { elementCount, type Graph, isConstant, type Operator, type OpKind, type Tensor } from '../../src/ir/graph.ts';
import { constantValues } from '../../src/ir/tensor_data.ts';
import { activationRange, perTensorQuant } from '../../src/lower/common.ts';
import { floatOperator, fusedActivation, runContext, valueInputs } from '../../src/quantize/float_reference.ts';
import { registerTrainingGradients, softmaxCrossEntropy } from '../helpers/tfjs_gradients.ts';

export interface TrainableRef { tensor: number }

export interface FloatGradients {
  /** Softmax cross-entropy of the logits against the label, natural log. */
  loss: number;
  logits: Float32Array;
  /** Tensor id -> dL/d(real value of that constant), in the tensor's element order. */
  grads: Map<number, Float32Array>;
}

/** Real values of constants by tensor id, to replace the dequantized ones (finite differences). */
export type RealOverrides = ReadonlyMap<number, Float32Array>;

const SUPPORTED: ReadonlySet<OpKind> = new Set<OpKind>([
  'CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED', 'ADD', 'AVERAGE_POOL_2D', 'MEAN', 'PAD', 'RESHAPE',
]);

/**
 * Loss, logits and the gradient of the loss w.r.t. the real value of each trainable constant, for one
 * int8 `input` sample of class `label`.
 */
export async function floatGradients(graph: Graph, logitsTensor: number, trainables: TrainableRef[],
                                     input: Int8Array, label: number): Promise<FloatGradients> {
  await initTf();
  const model = prepare(graph, logitsTensor, input, label);
  const ids = trainables.map((t) => t.tensor);
  for (const id of ids) {
    if (!model.constants.has(id)) {
      throw new McutrainError(`tensor ${id} '${graph.tensors[id]?.name}' is not a weights or bias constant read before the logits`,
        'train the weights or biases of layers that compute the logits');
    }
  }
  if (new Set(ids).size !== ids.length) throw new McutrainError('a trainable tensor is listed twice', 'list each trainable once');
  const constants = uploadConstants(model.constants);
  try {
    let logits = new Float32Array(0);
    const xs = ids.map((id) => constants.get(id) as tf.Tensor);
    const result = tf.tidy(() => {
      const x = tf.tensor(model.input, graph.tensors[graph.inputs[0]].shape, 'float32');
      const onehot = tf.oneHot(tf.tensor1d([label], 'int32'), model.classes);
      const f = (...params: tf.Tensor[]): tf.Scalar => {
        const values = new Map(constants);
        ids.forEach((id, i) => values.set(id, params[i]));
        const y = forward(model, values, x);
        logits = (y.dataSync() as Float32Array).slice();
        return softmaxCrossEntropy(tf.reshape(y, [1, model.classes]), onehot);
      };
      const { value, grads } = tf.valueAndGrads(f)(xs);
      return { loss: value.dataSync()[0], grads: grads.map((g) => (g.dataSync() as Float32Array).slice()) };
    });
    return { loss: result.loss, logits, grads: new Map(ids.map((id, i) => [id, result.grads[i]])) };
  } finally {
    for (const t of constants.values()) t.dispose();
  }
}

/**
 * The forward pass alone (no gradient): logits and their loss (computed in float64 from the float32
 * logits), with some constants' real values replaced by `overrides` (finite differences perturb them).
 */
export async function floatLoss(graph: Graph, logitsTensor: number, input: Int8Array, label: number,
                                overrides: RealOverrides = new Map()): Promise<{ loss: number; logits: Float32Array }> {
  await initTf();
  const model = prepare(graph, logitsTensor, input, label);
  const reals = new Map(model.constants);
  for (const [id, values] of overrides) {
    const base = reals.get(id);
    if (!base || base.values.length !== values.length) throw new Error(`override for tensor ${id}: not a constant of this size`);
    reals.set(id, { ...base, values });
  }
  const constants = uploadConstants(reals);
  try {
    const logits = tf.tidy(() => {
      const x = tf.tensor(model.input, graph.tensors[graph.inputs[0]].shape, 'float32');
      return (forward(model, constants, x).dataSync() as Float32Array).slice();
    });
    return { loss: crossEntropy(logits, label), logits };
  } finally {
    for (const t of constants.values()) t.dispose();
  }
}

/** Real value of every element of a quantized constant: scale[c] * (q - zeroPoint[c]), c the index along quant.axis. */
export function dequantizeConstant(t: Tensor): Float32Array {
  if (!t.quant || t.quant.scale.length === 0) {
    throw new McutrainError(`constant '${t.name}' has no quantization parameters`, 'use a fully quantized int8 model');
  }
  if (t.dtype !== 'int8' && t.dtype !== 'int4' && t.dtype !== 'int32') {
    throw new McutrainError(`constant '${t.name}' is ${t.dtype}; the oracle reads int8/int4 weights and int32 biases`, 'use a fully quantized int8 model');
  }
  const q = constantValues(t);
  const { scale, zeroPoint, axis } = t.quant;
  const channels = scale.length;
  const inner = channels === 1 ? 1 : elementCount(t.shape.slice(axis + 1));
  if (channels !== 1 && t.shape[axis] !== channels) {
    throw new McutrainError(`constant '${t.name}' has ${channels} scales for ${t.shape[axis]} channels along axis ${axis}`, 'the model file is malformed; re-export it');
  }
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) {
    const c = channels === 1 ? 0 : Math.floor(i / inner) % channels;
    out[i] = scale[c] * (q[i] - (zeroPoint[c] ?? 0));
  }
  return out;
}

/** ||a - b|| / ||b|| (Euclidean). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff) / Math.sqrt(norm);
}

/** a.b / (||a|| ||b||); 1 when both are all zero, 0 when only one is. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] ** 2;
    nb += b[i] ** 2;
  }
  if (na === 0 && nb === 0) return 1;
  if (na === 0 || nb === 0) return 0;
  return dot / Math.sqrt(na * nb);
}

/** -log softmax(logits)[label], in float64. */
export function crossEntropy(logits: ArrayLike<number>, label: number): number {
  const max = Math.max(...Array.from(logits));
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return Math.log(sum) - (logits[label] - max);
}

// ---------------------------------------------------------------------------------------------------

interface RealConstant { values: Float32Array; shape: number[] }

interface Model {
  graph: Graph;
  /** The operators up to and including the one computing the logits. */
  ops: Operator[];
  /** Dequantized value inputs (weights, biases) of those operators. */
  constants: Map<number, RealConstant>;
  input: Float32Array;
  classes: number;
}

async function initTf(): Promise<void> {
  tf.env().set('PROD', true);
  if (tf.getBackend() !== 'cpu' && !(await tf.setBackend('cpu'))) {
    throw new McutrainError('the TensorFlow.js CPU backend failed to initialize', 'reinstall mcutrain\'s dependencies (npm ci)');
  }
  registerTrainingGradients();
}

function opLabel(op: Operator): string {
  return `operator ${op.id} (${op.kind})`;
}

function prepare(graph: Graph, logitsTensor: number, input: Int8Array, label: number): Model {
  if (graph.inputs.length !== 1) throw new McutrainError(`the oracle runs one-input models; '${graph.name}' has ${graph.inputs.length}`, 'use a one-input model');
  const inputTensor = graph.tensors[graph.inputs[0]];
  if (inputTensor.dtype !== 'int8') throw new McutrainError(`model input '${inputTensor.name}' is ${inputTensor.dtype}, not int8`, 'use a fully quantized int8 model');
  if (input.length !== elementCount(inputTensor.shape)) {
    throw new McutrainError(`input '${inputTensor.name}' needs ${elementCount(inputTensor.shape)} values, got ${input.length}`, 'check the sample\'s size');
  }
  const last = graph.operators.findIndex((op) => op.outputs.includes(logitsTensor));
  if (last < 0) throw new McutrainError(`no operator computes tensor ${logitsTensor}`, 'pass the id of the logits tensor');
  const ops = graph.operators.slice(0, last + 1);
  const constants = new Map<number, RealConstant>();
  for (const op of ops) {
    if (!SUPPORTED.has(op.kind)) {
      throw new McutrainError(`${opLabel(op)} is not supported by the float gradient oracle`,
        `the oracle differentiates ${[...SUPPORTED].join(', ')}`);
    }
    const output = graph.tensors[op.outputs[0]];
    if (output.dtype !== 'int8') throw new McutrainError(`${opLabel(op)}: output '${output.name}' is ${output.dtype}, not int8`, 'use a fully quantized int8 model');
    for (const id of valueInputs(op)) {
      const t = graph.tensors[id];
      if (isConstant(t) && !constants.has(id)) constants.set(id, { values: dequantizeConstant(withBiasScale(graph, op, t)), shape: t.shape });
    }
  }
  const classes = elementCount(graph.tensors[logitsTensor].shape);
  if (!Number.isInteger(label) || label < 0 || label >= classes) throw new McutrainError(`label ${label} is not one of the ${classes} classes`, 'pass a class index');
  const { scale, zeroPoint } = perTensorQuant(inputTensor);
  return { graph, ops, constants, input: Float32Array.from(input, (q) => scale * (q - zeroPoint)), classes };
}

/** A bias without quantization parameters gets TFLite's implied scale: input scale * weight scale[c]. */
function withBiasScale(graph: Graph, op: Operator, t: Tensor): Tensor {
  if (t.quant || t.dtype !== 'int32' || op.inputs[2] !== t.id) return t;
  const sx = perTensorQuant(graph.tensors[op.inputs[0]]).scale;
  const w = graph.tensors[op.inputs[1]].quant;
  if (!w) return t;
  return { ...t, quant: { scale: w.scale.map((s) => s * sx), zeroPoint: w.scale.map(() => 0), axis: 0 } };
}

function uploadConstants(reals: Map<number, RealConstant>): Map<number, tf.Tensor> {
  return new Map([...reals].map(([id, c]) => [id, tf.tensor(c.values, c.shape, 'float32')]));
}

/** The float model's logits (shaped as the logits tensor); call inside a tidy. */
function forward(model: Model, constants: ReadonlyMap<number, tf.Tensor>, x: tf.Tensor): tf.Tensor {
  const { graph } = model;
  const live = new Map<number, tf.Tensor>([[graph.inputs[0], x]]);
  const ctx = runContext(graph, live, constants);
  let y = x;
  model.ops.forEach((op, i) => {
    const output = graph.tensors[op.outputs[0]];
    const { min, max } = activationRange(fusedActivation(op), output);
    const { scale, zeroPoint } = perTensorQuant(output);
    const clamp = i === model.ops.length - 1 ? projectedClamp : plainClamp;
    y = clamp(floatOperator(ctx, op), scale * (min - zeroPoint), scale * (max - zeroPoint));
    live.set(output.id, y);
  });
  return y;
}

const plainClamp = (x: tf.Tensor, lo: number, hi: number): tf.Tensor => tf.clipByValue(x, lo, hi);

/**
 * The engine's clamp of the logits (mt_clamp_mask_projected_f32): the value clipped, the gradient
 * zeroed only where it would push a clipped logit further out.
 */
function projectedClamp(x: tf.Tensor, lo: number, hi: number): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const v = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([v]);
    return {
      value: tf.clipByValue(v, lo, hi),
      gradFunc: (dy, saved) => {
        const [xs] = saved;
        const inside = tf.logicalAnd(tf.greater(xs, lo), tf.less(xs, hi));
        const back = tf.logicalOr(tf.logicalAnd(tf.lessEqual(xs, lo), tf.less(dy, 0)), tf.logicalAnd(tf.greaterEqual(xs, hi), tf.greater(dy, 0)));
        return tf.where(tf.logicalOr(inside, back), dy, tf.zerosLike(dy));
      },
    };
  });
  return f(x);
}
