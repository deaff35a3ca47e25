/**
 * The float forward pass of a float32 graph, with tfjs-core on its CPU backend: the numerical reference
 * the quantizer calibrates against. It computes every operator of the IR the way TensorFlow Lite's
 * float kernels define it (NHWC, OHWI conv filters, 1HWC depthwise filters, [out, in] FC weights, SAME
 * padding split as TFLite's ComputePaddingHeightWidth) and returns the value of every tensor it
 * computed, so calibration can see the intermediate activations.
 *
 * This is float arithmetic only; integer arithmetic lives in the C kernels (DESIGN.md).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { McutrainError } from '../errors.ts';
import { type Activation, elementCount, type Graph, isConstant, type Operator, type OpKind, type OpOf } from '../ir/graph.ts';
import { inputOf, roleOfInput, slotIndex, type WeightedOp } from '../ir/operator_traits.ts';
import { leadingPadding, outputSize } from '../lower/common.ts';
import { readFloat32, readInts } from '../ir/tensor_data.ts';

export { fusedActivationBounds } from './activation_bounds.ts';

/** Values by tensor id: every graph input and every tensor an operator computed (constants are not repeated). */
export type TensorValues = Map<number, Float32Array>;

export interface FloatReference {
  readonly graph: Graph;
  /** One forward pass; `inputs` in graph input order, each with the input's element count. */
  run(inputs: readonly Float32Array[]): TensorValues;
  /** Frees the constants held by the backend. */
  dispose(): void;
}

/**
 * Prepares `graph` for float inference: checks that every operator can run in float and uploads the
 * constants once. Only float32 graphs are accepted (a quantized graph has its own reference: the engine).
 */
export async function createFloatReference(graph: Graph): Promise<FloatReference> {
  // tfjs-core prints an advertisement for its native backend on first use in Node; mcutrain cannot use
  // that backend, so the message would only confuse users.
  tf.env().set('PROD', true);
  if (tf.getBackend() !== 'cpu' && !(await tf.setBackend('cpu'))) {
    throw new McutrainError('the TensorFlow.js CPU backend failed to initialize', 'reinstall mcutrain\'s dependencies (npm ci)');
  }
  checkFloatGraph(graph);
  const constants = new Map<number, tf.Tensor>();
  for (const op of graph.operators) {
    for (const id of op.inputs) {
      if (id < 0 || constants.has(id)) continue;
      const t = graph.tensors[id];
      if (isConstant(t) && t.dtype === 'float32') constants.set(id, tf.tensor(readFloat32(t), t.shape, 'float32'));
    }
  }
  let disposed = false;
  return {
    graph,
    run(inputs) {
      if (disposed) throw new Error('FloatReference used after dispose()');
      return runGraph(graph, constants, inputs);
    },
    dispose() {
      disposed = true;
      for (const t of constants.values()) t.dispose();
      constants.clear();
    },
  };
}

/** One forward pass of `graph` (convenience for a single run). */
export async function runFloatGraph(graph: Graph, inputs: readonly Float32Array[]): Promise<TensorValues> {
  const ref = await createFloatReference(graph);
  try {
    return ref.run(inputs);
  } finally {
    ref.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------

const HINT_FLOAT = 'pass the float32 model (the one the TFLite converter writes without any quantization)';

function opLabel(op: Operator): string {
  return `operator ${op.id} (${op.kind})`;
}

function checkFloatGraph(graph: Graph): void {
  for (const op of graph.operators) {
    if (!FLOAT_OPS[op.kind]) {
      throw new McutrainError(`${opLabel(op)} cannot run in the float reference: '${graph.name}' is not a float32 model`, HINT_FLOAT);
    }
    for (const id of [...valueInputs(op), ...op.outputs]) {
      if (id < 0) continue;
      const t = graph.tensors[id];
      if (t.dtype !== 'float32') {
        throw new McutrainError(`${opLabel(op)}: tensor '${t.name}' is ${t.dtype}; the float reference runs float32 graphs`, HINT_FLOAT);
      }
    }
  }
  for (const id of graph.inputs) {
    const t = graph.tensors[id];
    if (t.dtype !== 'float32') throw new McutrainError(`model input '${t.name}' is ${t.dtype}, not float32`, HINT_FLOAT);
  }
}

/**
 * The inputs of `op` that carry values (activations, weights, biases), as opposed to the int32 shapes,
 * axes and paddings the operator reads as parameters; absent optional inputs (-1) are left out.
 */
export function valueInputs(op: Operator): number[] {
  return op.inputs.filter((id, i) => id >= 0 && roleOfInput(op.kind, i) !== 'parameter');
}

/** What an operator reads: the graph (for its constant parameters) and the value of each input tensor. */
export interface RunContext {
  graph: Graph;
  value(id: number): tf.Tensor;
}

/** A RunContext that finds each tensor in the first of `sources` holding it (computed values first, then constants). */
export function runContext(graph: Graph, ...sources: ReadonlyMap<number, tf.Tensor>[]): RunContext {
  return {
    graph,
    value(id) {
      for (const source of sources) {
        const v = source.get(id);
        if (v) return v;
      }
      throw new McutrainError(`tensor ${id} '${graph.tensors[id]?.name}' is used before any operator computes it`, 'the model file is malformed; re-export it');
    },
  };
}

/** The fused activation of `op` ('NONE' for operators without one). */
export function fusedActivation(op: Operator): Activation {
  return 'activation' in op.options ? op.options.activation : 'NONE';
}

/**
 * One operator in float, before its fused activation, shaped as its output tensor: the building block
 * of the forward pass, shared with passes that apply something else than the float activation (the
 * training oracle clamps to the int8 output range instead). Call it inside a tf.tidy.
 */
export function floatOperator(ctx: RunContext, op: Operator): tf.Tensor {
  const run = FLOAT_OPS[op.kind] as ((c: RunContext, o: Operator) => tf.Tensor) | undefined;
  if (!run) throw new McutrainError(`${opLabel(op)} has no float implementation`, 'the float reference runs the operators of DESIGN.md');
  const result = run(ctx, op);
  const output = ctx.graph.tensors[op.outputs[0]];
  if (elementCount(result.shape) !== elementCount(output.shape)) {
    throw new McutrainError(`${opLabel(op)} computes shape [${result.shape.join(', ')}] but its output '${output.name}' is [${output.shape.join(', ')}]`,
      'the model file is malformed; re-export it');
  }
  return tf.reshape(result, output.shape);
}

function runGraph(graph: Graph, constants: Map<number, tf.Tensor>, inputs: readonly Float32Array[]): TensorValues {
  if (inputs.length !== graph.inputs.length) {
    throw new McutrainError(`the model takes ${graph.inputs.length} input(s), got ${inputs.length}`, 'pass one array per model input');
  }
  const out: TensorValues = new Map();
  tf.tidy(() => {
    const live = new Map<number, tf.Tensor>();
    graph.inputs.forEach((id, i) => {
      const t = graph.tensors[id];
      const count = elementCount(t.shape);
      if (inputs[i].length !== count) {
        throw new McutrainError(`input ${i} '${t.name}' needs ${count} values [${t.shape.join(', ')}], got ${inputs[i].length}`, 'check the sample\'s size');
      }
      live.set(id, tf.tensor(inputs[i], t.shape, 'float32'));
      out.set(id, Float32Array.from(inputs[i]));
    });
    const ctx = runContext(graph, live, constants);
    for (const op of graph.operators) {
      const result = activate(floatOperator(ctx, op), fusedActivation(op), op);
      live.set(op.outputs[0], result);
      out.set(op.outputs[0], (result.dataSync() as Float32Array).slice());
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Operators (each before its fused activation, which runGraph applies)

type FloatOp<K extends OpKind> = (ctx: RunContext, op: OpOf<K>) => tf.Tensor;

const FLOAT_OPS: { [K in OpKind]?: FloatOp<K> } = {
  CONV_2D: (ctx, op) => {
    const [x, w, b] = [ctx.value(inputOf(op, 'input')), ctx.value(inputOf(op, 'weights')), bias(ctx, op)];
    // OHWI -> HWIO
    const filter = tf.transpose(w, [1, 2, 3, 0]) as tf.Tensor4D;
    const y = windowed(op, x as tf.Tensor4D, filter.shape[0], filter.shape[1], (input, strides, pad, dilations) =>
      tf.conv2d(input, filter, strides, pad, 'NHWC', dilations));
    return b ? tf.add(y, b) : y;
  },
  DEPTHWISE_CONV_2D: (ctx, op) => {
    const [x, w, b] = [ctx.value(inputOf(op, 'input')), ctx.value(inputOf(op, 'weights')), bias(ctx, op)];
    const inC = x.shape[3] as number;
    const [, fh, fw, outC] = w.shape as number[];
    // TFLite 2.x derives the multiplier from the shapes; output channel c*m + k is input c's k-th filter.
    const multiplier = outC / inC;
    if (!Number.isInteger(multiplier) || multiplier < 1) {
      throw new McutrainError(`${opLabel(op)}: filter [${w.shape.join(', ')}] does not fit ${inC} input channels`, 'the model file is malformed; re-export it');
    }
    const filter = tf.reshape(w, [fh, fw, inC, multiplier]) as tf.Tensor4D;
    const y = windowed(op, x as tf.Tensor4D, fh, fw, (input, strides, pad, dilations) =>
      tf.depthwiseConv2d(input, filter, strides, pad, 'NHWC', dilations));
    return b ? tf.add(y, b) : y;
  },
  FULLY_CONNECTED: (ctx, op) => {
    const [x, w, b] = [ctx.value(inputOf(op, 'input')), ctx.value(inputOf(op, 'weights')), bias(ctx, op)];
    const depth = w.shape[1] as number;
    if (x.size % depth !== 0) {
      throw new McutrainError(`${opLabel(op)}: input [${x.shape.join(', ')}] does not split into rows of ${depth}`, 'the model file is malformed; re-export it');
    }
    // Weights are [out, in]: y = x W^T + b, row by row (the output tensor's shape says how rows are laid out).
    const y = tf.matMul(tf.reshape(x, [-1, depth]), w, false, true);
    return b ? tf.add(y, b) : y;
  },
  AVERAGE_POOL_2D: (ctx, op) => {
    const o = op.options;
    // tfjs pools as TensorFlow does: SAME padding split like TFLite, padded cells left out of the average.
    return tf.avgPool(ctx.value(inputOf(op, 'input')) as tf.Tensor4D, [o.filterH, o.filterW], [o.strideH, o.strideW], o.padding === 'SAME' ? 'same' : 'valid');
  },
  MAX_POOL_2D: (ctx, op) => {
    const o = op.options;
    return tf.maxPool(ctx.value(inputOf(op, 'input')) as tf.Tensor4D, [o.filterH, o.filterW], [o.strideH, o.strideW], o.padding === 'SAME' ? 'same' : 'valid');
  },
  ADD: (ctx, op) => tf.add(ctx.value(inputOf(op, 'input1')), ctx.value(inputOf(op, 'input2'))),
  MEAN: (ctx, op) => {
    const x = ctx.value(inputOf(op, 'input'));
    const axes = [...new Set(constInts(ctx, op, 'axis').map((a) => (a < 0 ? a + x.rank : a)))];
    return tf.mean(x, axes, op.options.keepDims);
  },
  PAD: (ctx, op) => {
    const x = ctx.value(inputOf(op, 'input'));
    const p = constInts(ctx, op, 'paddings');
    if (p.length !== 2 * x.rank) {
      throw new McutrainError(`${opLabel(op)}: ${p.length} padding values for a rank-${x.rank} input`, 'the model file is malformed; re-export it');
    }
    return tf.pad(x, Array.from({ length: x.rank }, (_, i) => [p[2 * i], p[2 * i + 1]] as [number, number]), 0);
  },
  // The output tensor's shape is the target shape; floatOperator reshapes every result to it.
  RESHAPE: (ctx, op) => ctx.value(inputOf(op, 'input')),
  SOFTMAX: (ctx, op) => tf.softmax(tf.mul(ctx.value(inputOf(op, 'input')), op.options.beta)),
  CONCATENATION: (ctx, op) => {
    const xs = op.inputs.map((id) => ctx.value(id));
    const axis = op.options.axis < 0 ? op.options.axis + xs[0].rank : op.options.axis;
    return tf.concat(xs, axis);
  },
  RELU: (ctx, op) => tf.relu(ctx.value(inputOf(op, 'input'))),
  RELU6: (ctx, op) => tf.relu6(ctx.value(inputOf(op, 'input'))),
};

function bias(ctx: RunContext, op: WeightedOp): tf.Tensor | undefined {
  const id = inputOf(op, 'bias');
  return id < 0 ? undefined : ctx.value(id);
}

function constInts(ctx: RunContext, op: OpOf<'MEAN'> | OpOf<'PAD'>, slot: 'axis' | 'paddings'): number[] {
  const index = slotIndex(op.kind, slot);
  const t = ctx.graph.tensors[op.inputs[index]];
  if (!t || !isConstant(t)) {
    throw new McutrainError(`${opLabel(op)}: input ${index} must be a constant`, 'the model file is malformed; re-export it');
  }
  return readInts(t);
}

function activate(x: tf.Tensor, activation: Activation, op: Operator): tf.Tensor {
  switch (activation) {
    case 'NONE': return x;
    case 'RELU': return tf.relu(x);
    case 'RELU6': return tf.relu6(x);
    case 'RELU_N1_TO_1': return tf.clipByValue(x, -1, 1);
    case 'TANH': return tf.tanh(x);
    default:
      throw new McutrainError(`${opLabel(op)} has fused activation ${activation}, which the float reference does not support`,
        'use NONE, RELU, RELU6, RELU_N1_TO_1 or TANH');
  }
}

type Conv = (input: tf.Tensor4D, strides: [number, number], pad: [[number, number], [number, number], [number, number], [number, number]], dilations: [number, number]) => tf.Tensor4D;

/**
 * Runs a convolution with TFLite's padding (explicit, so nothing depends on another library's SAME).
 * tfjs refuses strides and dilations both above one; TFLite allows it, so such a layer runs at stride
 * one and the strided outputs are picked afterwards (output i of stride s starts at input i*s either way).
 */
function windowed(op: OpOf<'CONV_2D'> | OpOf<'DEPTHWISE_CONV_2D'>, x: tf.Tensor4D, fh: number, fw: number, conv: Conv): tf.Tensor {
  const o = op.options;
  const [n, inH, inW] = x.shape;
  const side = (input: number, filter: number, stride: number, dilation: number): [number, number] => {
    const out = outputSize(o.padding, input, filter, stride, dilation);
    const before = leadingPadding(o.padding, input, filter, stride, dilation);
    const total = Math.max((out - 1) * stride + (filter - 1) * dilation + 1 - input, 0);
    return [before, total - before];
  };
  const pad: [[number, number], [number, number], [number, number], [number, number]] =
    [[0, 0], side(inH, fh, o.strideH, o.dilationH), side(inW, fw, o.strideW, o.dilationW), [0, 0]];
  const strided = o.strideH > 1 || o.strideW > 1;
  const dilated = o.dilationH > 1 || o.dilationW > 1;
  if (!(strided && dilated)) return conv(x, [o.strideH, o.strideW], pad, [o.dilationH, o.dilationW]);
  const full = conv(x, [1, 1], pad, [o.dilationH, o.dilationW]);
  const outH = outputSize(o.padding, inH, fh, o.strideH, o.dilationH);
  const outW = outputSize(o.padding, inW, fw, o.strideW, o.dilationW);
  return tf.stridedSlice(full, [0, 0, 0, 0], [n, (outH - 1) * o.strideH + 1, (outW - 1) * o.strideW + 1, full.shape[3]], [1, o.strideH, o.strideW, 1]);
}
