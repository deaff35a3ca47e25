/**
 * Pass `quantizeGraph`: float32 graph + calibration -> int8 graph, per TensorFlow Lite's int8
 * quantization spec, computed the way the TFLite converter's post-training quantizer computes it
 * (tensorflow/lite/tools/optimize, in float32 arithmetic), so that weights quantized here match the
 * converter's bit for bit and scales to the last float32 bit:
 *
 * - weights: symmetric int8 in [-127, 127], zero point 0, scale = max|w| / 127: per output channel for
 *   CONV_2D (axis 0) and DEPTHWISE_CONV_2D (axis 3); per tensor for FULLY_CONNECTED unless asked per
 *   channel (axis 0). Optionally int4 for frozen layers: [-7, 7], scale = max|w| / 7, always per channel,
 *   packed two per byte; the last `keepInt8` weighted layers (the trained ones) stay int8. Where the bias would not fit in half the int32 range at scale s_in * s_w, the
 *   weight scale grows until it does (the converter's AdjustWeightsForBiasScale).
 * - biases: int32, zero point 0, scale s_in * s_w (per channel when the weights are).
 * - activations: per tensor, asymmetric: the calibrated range widened to include 0, scale =
 *   (max - min) / 255, zero point = round(-128 - min / scale) clamped to int8.
 * - operator constraints of the int8 kernels: AVERAGE_POOL_2D, MAX_POOL_2D, RESHAPE, PAD, RELU and
 *   RELU6 give their output their input's quantization; SOFTMAX's output is scale 1/256, zero point
 *   -128; CONCATENATION keeps its calibrated output range and inputs quantized otherwise are requantized
 *   by an inserted QUANTIZE (int8 -> int8), as the converter does; MEAN and ADD keep their own output
 *   ranges (their kernels rescale).
 * - graph inputs and outputs: int8 (default, like the reference models) or float32 with QUANTIZE /
 *   DEQUANTIZE operators at the edges.
 *
 * Quantizing is a pure function of the graph, the calibration and the options; nothing is read from disk.
 */
import { McutrainError } from '../errors.ts';
import {
  elementCount, type Graph, isConstant, type Operator, type Quantization, type Tensor,
} from '../ir/graph.ts';
import type { Calibration, TensorRange } from './calibrate.ts';
import { bytesOf, readFloat32 } from '../ir/tensor_data.ts';
import { packInt4 } from '../ir/int4.ts';
import { activationInputs, inputOf, isWeighted, optionalInput, outputAxis, slotIndex, traitsOf, type WeightedOp } from '../ir/operator_traits.ts';

export type IoType = 'int8' | 'float32';
export type FullyConnectedWeights = 'per-tensor' | 'per-channel';

export interface QuantizeOptions {
  /** Type of the graph's inputs and outputs. Default 'int8'. */
  io?: IoType;
  /** How FULLY_CONNECTED weights are quantized. Default 'per-tensor', as the converter does. */
  fullyConnected?: FullyConnectedWeights;
  /**
   * Weight type of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED. Default 'int8'. 'int4' stores frozen
   * weights packed two per byte (TFLite's INT4), symmetric per channel in [-7, 7] (FULLY_CONNECTED too).
   */
  weights?: WeightType;
  /** With weights 'int4': the last N weighted operators (in execution order) keep int8 weights. Default 0. */
  keepInt8?: number;
}

export type WeightType = 'int8' | 'int4';

/** Per-tensor activation quantization: real = scale * (q - zeroPoint). Scale is a float32 value. */
export interface ActivationParams {
  scale: number;
  zeroPoint: number;
}

const f32 = Math.fround;
const INT8_MIN = -128;
const INT8_MAX = 127;
/** Weights use the narrow range [-127, 127] (int4: [-7, 7]), so that -w is always representable. */
const WEIGHT_MAX = 127;
const INT4_WEIGHT_MAX = 7;
const INT32_MAX = 2147483647;

/** The fixed output quantization of int8 SOFTMAX (TFLite's kernels require exactly this). */
export const SOFTMAX_OUTPUT: ActivationParams = { scale: 1 / 256, zeroPoint: -128 };

/** C's roundf(): halves away from zero. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * The converter's GetAsymmetricQuantizationParams (in float32): the range widened to include 0,
 * scale (max - min) / 255, zero point nudged to an integer. A range that is a single point (a tensor
 * that is always 0) gets scale 1 and zero point -128, as the converter's MLIR quantizer does.
 */
export function activationParams(range: TensorRange): ActivationParams {
  const min = f32(Math.min(f32(range.min), 0));
  const max = f32(Math.max(f32(range.max), 0));
  const scale = f32(f32(max - min) / 255);
  if (!(scale > 0) || !Number.isFinite(scale)) {
    if (max === min) return { scale: 1, zeroPoint: INT8_MIN };
    throw new McutrainError(`calibrated range [${range.min}, ${range.max}] gives no usable int8 scale`, 'check the calibration samples');
  }
  const zeroPointFromMin = f32(INT8_MIN - f32(min / scale));
  const zeroPoint = zeroPointFromMin < INT8_MIN ? INT8_MIN : zeroPointFromMin > INT8_MAX ? INT8_MAX : roundHalfAway(zeroPointFromMin);
  return { scale, zeroPoint };
}

/** Quantizes real values to int8 with per-tensor asymmetric parameters (constants fed as activations). */
function quantizeAsymmetric(values: Float32Array, p: ActivationParams): Int8Array {
  const inv = f32(1 / p.scale);
  return Int8Array.from(values, (v) => Math.min(INT8_MAX, Math.max(INT8_MIN, roundHalfAway(f32(v * inv)) + p.zeroPoint)));
}

// ---------------------------------------------------------------------------------------------------
// Weights and biases

/** Symmetric int8 weights: values, one scale per channel (or one for the tensor), and the channel axis. */
export interface QuantizedWeights {
  values: Int8Array;
  scales: number[];
  axis: number;
}

/**
 * The converter's symmetric weight quantization (SymmetricPerChannelQuantization / SymmetricQuantizeFloats):
 * half range max|w| per channel (or over the tensor when `axis` is null), scale = half / 127,
 * q = round(w * (127 / half)) clamped to [-127, 127]; int4 passes `qmax` 7 in place of 127. `bias` (float)
 * and `inputScale` apply the converter's AdjustWeightsForBiasScale first: a channel whose bias would need
 * more than half of int32 at scale inputScale * weightScale gets a larger weight scale.
 */
export function quantizeWeights(
  w: Float32Array, shape: readonly number[], axis: number | null, bias: Float32Array | null, inputScale: number, qmax = WEIGHT_MAX,
): QuantizedWeights {
  const channels = axis === null ? 1 : shape[axis];
  const inner = axis === null ? 1 : elementCount(shape.slice(axis + 1));
  const channelOf = (i: number) => (axis === null ? 0 : Math.floor(i / inner) % channels);
  const half = new Array<number>(channels).fill(0);
  for (let i = 0; i < w.length; i++) {
    const c = channelOf(i);
    half[c] = Math.max(half[c], Math.abs(w[i]));
  }
  if (bias) {
    if (axis !== null) {
      for (let c = 0; c < channels; c++) {
        const b = Math.abs(bias[c]);
        if (b >= 0.5 * inputScale * f32(half[c] / qmax) * INT32_MAX) half[c] = f32(((2 * b) / INT32_MAX) * f32(qmax / inputScale));
      }
    } else {
      const b = bias.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      if (f32(b / f32(INT32_MAX)) >= 0.5 * inputScale * f32(half[0] / qmax)) half[0] = f32(((2 * b) / INT32_MAX) * f32(qmax / inputScale));
    }
  }
  // An all-zero channel without bias has no scale of its own: the converter writes 1 for a whole tensor and
  // 0 for a channel; 1 everywhere keeps every scale positive (requantization and QAS divide by it).
  const scales = half.map((h) => (h === 0 ? 1 : f32(h / qmax)));
  const inverse = half.map((h) => (h === 0 ? 0 : f32(qmax / h)));
  const values = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const q = roundHalfAway(f32(w[i] * inverse[channelOf(i)]));
    values[i] = Math.min(qmax, Math.max(-qmax, q));
  }
  return { values, scales, axis: axis ?? 0 };
}

/** The converter's bias quantization: scale = inputScale * weightScale (float32), q = round(b / scale) in int32. */
export function quantizeBias(b: Float32Array, inputScale: number, weightScales: readonly number[]): { values: Int32Array; scales: number[] } {
  const scales = weightScales.map((s) => f32(inputScale * s));
  const values = Int32Array.from(b, (v, c) => {
    const scale = scales[scales.length === 1 ? 0 : c];
    const inv = scale === 0 ? 0 : f32(1 / scale);
    return Math.min(INT32_MAX, Math.max(-INT32_MAX, roundHalfAway(f32(v * inv))));
  });
  return { values, scales };
}

// ---------------------------------------------------------------------------------------------------
// The pass

const HINT_FLOAT = 'quantize the float32 model (the one the TFLite converter writes without any quantization)';

function label(op: Operator): string {
  return `operator ${op.id} (${op.kind})`;
}

export function quantizeGraph(graph: Graph, calibration: Calibration, options: QuantizeOptions = {}): Graph {
  const io = options.io ?? 'int8';
  const fcPerChannel = (options.fullyConnected ?? 'per-tensor') === 'per-channel';
  const keepInt8 = options.keepInt8 ?? 0;
  if (!Number.isInteger(keepInt8) || keepInt8 < 0) {
    throw new McutrainError(`keepInt8 must be a whole number of layers, not ${keepInt8}`, 'give how many of the last weighted layers stay int8, e.g. 6');
  }
  checkQuantizable(graph);

  const tensors: Tensor[] = graph.tensors.map(({ quant: _, ...t }) => ({ ...t, shape: [...t.shape] }));
  const operators: Operator[] = graph.operators.map((op) => ({ ...op, inputs: [...op.inputs], outputs: [...op.outputs] }) as Operator);
  const params = new Map<number, ActivationParams>();
  const rangeOf = (id: number): TensorRange => {
    const r = calibration.ranges.get(id);
    if (!r) {
      throw new McutrainError(`the calibration has no range for tensor ${id} '${graph.tensors[id].name}'`,
        `calibrate this graph ('${graph.name}') before quantizing it; the calibration given was made for '${calibration.graph}'`);
    }
    return r;
  };
  const addTensor = (t: Omit<Tensor, 'id'>): number => {
    tensors.push({ id: tensors.length, ...t });
    return tensors.length - 1;
  };

  // 1. Activation quantization, in execution order (an output's constraint may name its input's).
  for (const id of graph.inputs) params.set(id, activationParams(rangeOf(id)));
  for (const op of operators) {
    for (const id of activationInputs(op)) {
      if (params.has(id)) continue;
      const t = graph.tensors[id];
      if (!isConstant(t)) throw new McutrainError(`${label(op)} reads '${t.name}' before any operator computes it`, 'the model file is malformed; re-export it');
      params.set(id, activationParams(valueRange(readFloat32(t))));
    }
    const out = op.outputs[0];
    const outputQuant = traitsOf(op.kind).outputQuant;
    if (outputQuant === 'softmax') params.set(out, SOFTMAX_OUTPUT);
    else if (outputQuant === 'input') params.set(out, params.get(activationInputs(op)[0]) as ActivationParams);
    else params.set(out, activationParams(rangeOf(out)));
  }
  for (const [id, p] of params) {
    const t = tensors[id];
    t.quant = perTensor(p);
    if (isConstant(t)) t.data = bytesOf(quantizeAsymmetric(readFloat32(graph.tensors[id]), p));
    t.dtype = 'int8';
  }

  // 2. Weights and biases. A constant shared by operators that need different values is duplicated.
  const claimed = new Set<number>();
  const claim = (op: WeightedOp, slot: 'weights' | 'bias'): Tensor => {
    const index = slotIndex(op.kind, slot);
    let id = op.inputs[index];
    if (claimed.has(id)) {
      id = addTensor({ ...graph.tensors[id], shape: [...graph.tensors[id].shape] });
      op.inputs[index] = id;
    }
    claimed.add(id);
    return tensors[id];
  };
  const weighted = operators.filter(isWeighted);
  // The layers that stay int8: the last keepInt8 (those a training run updates), or all of them.
  const int8Layers = new Set(options.weights === 'int4' ? weighted.slice(Math.max(0, weighted.length - keepInt8)) : weighted);
  for (const op of weighted) {
    const int4 = !int8Layers.has(op);
    const inputScale = (params.get(inputOf(op, 'input')) as ActivationParams).scale;
    const source = graph.tensors[inputOf(op, 'weights')];
    const biasSource = optionalInput(graph, op, 'bias') ?? null;
    const biasValues = biasSource ? readFloat32(biasSource) : null;
    const channelAxis = outputAxis(op);
    const axis = op.kind === 'FULLY_CONNECTED' && !fcPerChannel && !int4 ? null : channelAxis;
    const channels = source.shape[channelAxis];
    if (biasValues && biasValues.length !== channels) {
      throw new McutrainError(`${label(op)}: bias '${biasSource?.name}' has ${biasValues.length} values for ${channels} output channels`, 'the model file is malformed; re-export it');
    }
    const q = quantizeWeights(readFloat32(source), source.shape, axis, biasValues, inputScale, int4 ? INT4_WEIGHT_MAX : WEIGHT_MAX);
    const weights = claim(op, 'weights');
    weights.dtype = int4 ? 'int4' : 'int8';
    weights.data = int4 ? packInt4(q.values) : bytesOf(q.values);
    weights.quant = { scale: q.scales, zeroPoint: q.scales.map(() => 0), axis: q.axis };
    if (biasValues) {
      const b = quantizeBias(biasValues, inputScale, q.scales);
      const bias = claim(op, 'bias');
      bias.dtype = 'int32';
      bias.data = bytesOf(b.values);
      bias.quant = { scale: b.scales, zeroPoint: b.scales.map(() => 0), axis: 0 };
    }
  }

  // 3. CONCATENATION copies bytes: every input must carry the output's quantization.
  const result: Operator[] = [];
  for (const op of operators) {
    if (op.kind === 'CONCATENATION') {
      const outParams = params.get(op.outputs[0]) as ActivationParams;
      op.inputs.forEach((id, i) => {
        const p = params.get(id) as ActivationParams;
        if (p.scale === outParams.scale && p.zeroPoint === outParams.zeroPoint) return;
        const source = tensors[id];
        const requantized = addTensor({
          name: `${source.name}_requantized`, dtype: 'int8', shape: [...source.shape], quant: perTensor(outParams),
          ...(isConstant(source) ? { data: bytesOf(quantizeAsymmetric(readFloat32(graph.tensors[id]), outParams)) } : {}),
        });
        if (!isConstant(source)) result.push({ id: 0, kind: 'QUANTIZE', inputs: [id], outputs: [requantized], options: {} });
        op.inputs[i] = requantized;
      });
    }
    result.push(op);
  }

  // 4. The edges.
  let inputs = [...graph.inputs];
  let outputs = [...graph.outputs];
  if (io === 'float32') {
    const head: Operator[] = [];
    const renamed = new Map<number, number>();
    inputs = graph.inputs.map((id) => {
      const t = tensors[id];
      const float = addTensor({ name: t.name, dtype: 'float32', shape: [...t.shape] });
      t.name = `${t.name}_int8`;
      head.push({ id: 0, kind: 'QUANTIZE', inputs: [float], outputs: [id], options: {} });
      renamed.set(id, float);
      return float;
    });
    outputs = graph.outputs.map((id) => {
      const input = renamed.get(id);
      if (input !== undefined) return input; // an input passed straight through stays float
      const t = tensors[id];
      const float = addTensor({ name: t.name, dtype: 'float32', shape: [...t.shape] });
      t.name = `${t.name}_int8`;
      result.push({ id: 0, kind: 'DEQUANTIZE', inputs: [id], outputs: [float], options: {} });
      return float;
    });
    result.unshift(...head);
  }
  result.forEach((op, i) => { op.id = i; });
  return { name: graph.name, tensors, operators: result, inputs, outputs };
}

function valueRange(values: Float32Array): TensorRange {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return values.length === 0 ? { min: 0, max: 0 } : { min, max };
}

function perTensor(p: ActivationParams): Quantization {
  return { scale: [p.scale], zeroPoint: [p.zeroPoint], axis: 0 };
}

/** Refuses, with the operator named, anything the int8 spec has no quantized form for here. */
function checkQuantizable(graph: Graph): void {
  for (const op of graph.operators) {
    if (op.kind === 'QUANTIZE' || op.kind === 'DEQUANTIZE') {
      throw new McutrainError(`${label(op)}: '${graph.name}' is already (partly) quantized`, HINT_FLOAT);
    }
    const activation = (op.options as { activation?: string }).activation;
    if (activation === 'TANH' || activation === 'SIGN_BIT') {
      throw new McutrainError(`${label(op)} has fused activation ${activation}, which int8 kernels do not support`,
        'use NONE, RELU, RELU6 or RELU_N1_TO_1 in the model');
    }
    for (const id of [...activationInputs(op), ...op.outputs]) {
      const t = graph.tensors[id];
      if (t.dtype !== 'float32') throw new McutrainError(`${label(op)}: tensor '${t.name}' is ${t.dtype}, expected float32`, HINT_FLOAT);
    }
    if (isWeighted(op)) {
      for (const role of ['weights', 'bias'] as const) {
        const id = inputOf(op, role);
        if (id < 0) {
          if (role === 'weights') throw new McutrainError(`${label(op)} has no weights`, 'the model file is malformed; re-export it');
          continue;
        }
        const t = graph.tensors[id];
        if (!isConstant(t)) {
          throw new McutrainError(`${label(op)}: ${role} '${t.name}' are computed at run time; only constant ${role} can be quantized`,
            'export the model with constant weights (freeze it) before converting');
        }
        if (t.dtype !== 'float32') throw new McutrainError(`${label(op)}: ${role} '${t.name}' are ${t.dtype}, expected float32`, HINT_FLOAT);
      }
    }
  }
}
