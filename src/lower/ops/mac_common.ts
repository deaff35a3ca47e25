/**
 * Preparation shared by the multiply-accumulate operators (CONV_2D, DEPTHWISE_CONV_2D,
 * FULLY_CONNECTED): weight and bias checks, per-channel requantization multipliers, and the
 * compile-time proof that the kernels' int32 accumulators cannot overflow.
 */
import { type Graph, type Operator, type Tensor, elementCount, isConstant } from '../../ir/graph.ts';
import { McutrainError } from '../../errors.ts';
import { constantValues } from '../../ir/tensor_data.ts';
import { optionalInput, type WeightedOp } from '../../ir/operator_traits.ts';
import { quantizeMultiplier, toFloat32 } from '../quant_params.ts';
import type { CConst } from '../kernel_call.ts';
import { type ActivationQuant, opError, requireDType } from './checks.ts';

const REQUANTIZE_HINT = 'quantize the model with the TFLite converter (full-integer, int8 weights)';

/** Float32 scales and zero points of int8 or int4 weights, one entry per channel or a single per-tensor entry. */
export interface WeightQuant {
  scales: number[];
  zeroPoints: number[];
  perChannel: boolean;
  /** Constant int4 weights, packed two per byte: the kernel's `_s4w` entry point unpacks them on the fly. */
  int4: boolean;
}

/**
 * Checks int8 (or constant int4) weights quantized either per tensor or per channel along `axis` with
 * `channels` entries. A single scale means per-tensor whatever `axis` says (TFLite Micro reads it so;
 * some converters write axis 3 on per-tensor conv filters). int4 weights must be symmetric.
 */
export function quantizedWeights(op: Operator, filter: Tensor, role: string, axis: number, channels: number): WeightQuant {
  const int4 = filter.dtype === 'int4';
  if (int4 && !isConstant(filter)) {
    throw opError(op, `${role} '${filter.name}' is int4 but not a constant`, 'int4 weights must be frozen constants; keep trained layers int8');
  }
  if (!int4) requireDType(op, filter, role, 'int8', REQUANTIZE_HINT);
  const q = filter.quant;
  if (!q || q.scale.length === 0) throw opError(op, `${role} '${filter.name}' has no quantization parameters`, REQUANTIZE_HINT);
  const perChannel = q.scale.length > 1;
  if (perChannel && (q.scale.length !== channels || q.axis !== axis)) {
    throw opError(op,
      `${role} '${filter.name}' has ${q.scale.length} scales along axis ${q.axis}; expected 1, or ${channels} along axis ${axis}`,
      REQUANTIZE_HINT);
  }
  const scales = q.scale.map(toFloat32);
  if (scales.some((s) => !(s >= 0) || !Number.isFinite(s))) {
    throw opError(op, `${role} '${filter.name}' has an invalid scale`, REQUANTIZE_HINT);
  }
  const zeroPoints = q.scale.map((_, i) => q.zeroPoint[i] ?? q.zeroPoint[0] ?? 0);
  const wq = { scales, zeroPoints, perChannel, int4 };
  if (int4) requireSymmetric(op, filter, role, wq);
  return wq;
}

/** Requires symmetric weights (zero point 0), which the per-channel kernels assume. */
export function requireSymmetric(op: Operator, filter: Tensor, role: string, wq: WeightQuant): void {
  const bad = wq.zeroPoints.find((z) => z !== 0);
  if (bad !== undefined) {
    throw opError(op, `${role} '${filter.name}' has zero point ${bad}; ${wq.int4 ? 'int4' : 'int8'} weights must be symmetric (zero point 0)`, REQUANTIZE_HINT);
  }
}

/** The optional int32 bias (absent as -1 or missing), with `channels` values. */
export function optionalBias(graph: Graph, op: WeightedOp, channels: number): Tensor | null {
  const bias = optionalInput(graph, op, 'bias');
  if (!bias) return null;
  requireDType(op, bias, 'bias', 'int32', REQUANTIZE_HINT);
  if (elementCount(bias.shape) !== channels) {
    throw opError(op, `bias '${bias.name}' has ${elementCount(bias.shape)} values for ${channels} output channels`,
      'the model file is malformed; re-export it');
  }
  return bias;
}

/** Per-output-channel multipliers and shifts, as kernel constants named "mult" and "shift". */
export interface ChannelRequant {
  mult: CConst;
  shift: CConst;
}

function requantConsts(multipliers: number[], shifts: number[]): ChannelRequant {
  // The kernels' single rounding shifts the 64-bit product right by 31 - shift, which needs shift <= 30.
  const tooLarge = shifts.findIndex((s) => s > 30);
  if (tooLarge >= 0) {
    throw new McutrainError(`output channel ${tooLarge} needs a rescaling factor of 2^${shifts[tooLarge]} or more`,
      'the output scale is absurdly small for the input and weight scales; re-quantize the model');
  }
  return {
    mult: { name: 'mult', ctype: 'int32_t', values: Int32Array.from(multipliers) },
    shift: { name: 'shift', ctype: 'int32_t', values: Int32Array.from(shifts) },
  };
}

/**
 * TFLite's PopulateConvolutionQuantizationParams: for every output channel, the effective scale
 * input_scale * filter_scale / output_scale in double from the float32 scales, then QuantizeMultiplier.
 * A per-tensor filter repeats its one scale for every channel.
 */
export function perChannelRequant(input: ActivationQuant, wq: WeightQuant, output: ActivationQuant, channels: number): ChannelRequant {
  const multipliers: number[] = [];
  const shifts: number[] = [];
  for (let c = 0; c < channels; c++) {
    const filterScale = wq.perChannel ? wq.scales[c] : wq.scales[0];
    const q = quantizeMultiplier((input.scale * filterScale) / output.scale);
    multipliers.push(q.multiplier);
    shifts.push(q.shift);
  }
  return requantConsts(multipliers, shifts);
}

/**
 * TFLite's GetQuantizedConvolutionMultipler, used by per-tensor FULLY_CONNECTED: note the product of
 * the two scales is taken in float32 (only then widened), unlike the per-channel path.
 * The one multiplier is repeated for `channels` outputs so a single kernel serves both paths.
 */
export function perTensorRequant(input: ActivationQuant, filterScale: number, output: ActivationQuant, channels: number): ChannelRequant {
  const q = quantizeMultiplier(toFloat32(input.scale * filterScale) / output.scale);
  return requantConsts(new Array<number>(channels).fill(q.multiplier), new Array<number>(channels).fill(q.shift));
}

const INT32_MAX = 2 ** 31 - 1;

/**
 * Proves at compile time that no accumulator of a MAC kernel can leave int32 (signed overflow is
 * undefined behaviour in C; TFLite silently relies on it not happening). For each output channel
 * the worst case is sum(|w + filterOffset|) * max|x - inputZeroPoint| + |bias|, using the actual
 * constant weights and bias; weights that are not constant are bounded by their int8 range.
 * `channelOf(i)` maps the i-th weight to its output channel.
 */
export function checkAccumulatorFits(
  op: Operator,
  filter: Tensor,
  bias: Tensor | null,
  channels: number,
  channelOf: (weightIndex: number) => number,
  filterOffset: number,
  inputZeroPoint: number,
): void {
  const maxInput = Math.max(127 - inputZeroPoint, inputZeroPoint + 128);
  const weightSum = new Array<number>(channels).fill(0);
  if (isConstant(filter)) {
    const w = constantValues(filter);
    for (let i = 0; i < w.length; i++) weightSum[channelOf(i)] += Math.abs(w[i] + filterOffset);
  } else {
    const perChannel = elementCount(filter.shape) / channels;
    weightSum.fill(perChannel * (128 + Math.abs(filterOffset)));
  }
  const b = bias && isConstant(bias) ? constantValues(bias) : null;
  for (let c = 0; c < channels; c++) {
    const worst = weightSum[c] * maxInput + (b ? Math.abs(b[c]) : 0);
    if (worst > INT32_MAX) {
      throw opError(op,
        `output channel ${c} of '${filter.name}' can accumulate ${worst}, beyond the int32 accumulator`,
        'this layer is too deep or its bias too large for int8 inference; split it or retrain with smaller weights');
    }
  }
}
