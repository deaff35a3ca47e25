/**
 * MEAN (int8, over axes {1, 2} of NHWC) -> mt_mean_s8 (firmware/kernels/mean.c), in the arithmetic
 * ../numerics.ts names (docs/semantics.md, "MEAN"):
 *  tflm    TensorFlow Lite Micro's reduce kernel: QuantizedMeanOrSum on every call, whatever the
 *          quantizations (TFLM dropped its truncating same-quantization path in November 2022):
 *          input_scale / output_scale as a Q31 multiplier with 1/(H*W) folded in, applied to
 *          (sum - input_zero_point * H*W), rounded, plus the output zero point.
 *  tflite  the TFLite interpreter's three paths: with keep_dims its optimized integer Mean (the raw
 *          sum times QuantizeMultiplier(input_scale / (H*W * output_scale)), plus a bias rounded in
 *          float32); without keep_dims, between equal quantizations the integer mean truncated toward
 *          zero, and otherwise a float32 formula.
 */
import type { Graph, OpOf } from '../../ir/graph.ts';
import type { KernelCall } from '../kernel_call.ts';
import { paramsStruct } from '../params_structs.ts';
import { DEFAULT_NUMERICS, type LowerContext } from '../numerics.ts';
import { quantizeMultiplier, type QuantizedMultiplier } from '../quant_params.ts';
import { inOperator, int8Activation, opError, opOutput, requireShape } from './checks.ts';
import { constInts, opSlots } from './tensor_checks.ts';

/** Windows up to this size keep |sum - zero_point * count| <= 256 * count inside int32. */
const MAX_WINDOW = 2 ** 23 - 1;

/**
 * Folds 1/count into a quantized multiplier as TFLite's QuantizedMeanOrSum does: shift the multiplier
 * left by floor(log2(count)) (at most 32, and keeping the total shift >= -31), then divide by count.
 */
export function foldMeanCount(q: QuantizedMultiplier, count: number): QuantizedMultiplier {
  let shift = count.toString(2).length - 1; // 63 - CountLeadingZeros(count) = floor(log2(count))
  shift = Math.min(shift, 32);
  shift = Math.min(shift, 31 + q.shift);
  const multiplier = Number((BigInt(q.multiplier) << BigInt(shift)) / BigInt(count)); // int64 division truncates
  return { multiplier, shift: q.shift - shift };
}

/** The mode and constants of mt_mean_params for one MEAN. */
export interface MeanParams {
  mode: 'MT_MEAN_DIVIDE' | 'MT_MEAN_REQUANTIZE' | 'MT_MEAN_FLOAT';
  inputZeroPoint: number;
  outputZeroPoint: number;
  multiplier: number;
  shift: number;
  scale: number;
  bias: number;
}

type Quant = { scale: number; zeroPoint: number };
const f32 = Math.fround;

/** TFLite Micro: QuantizedMeanOrSum on every call. */
function tflmMean(inQ: Quant, outQ: Quant, count: number): MeanParams {
  const q = foldMeanCount(quantizeMultiplier(inQ.scale / outQ.scale), count);
  return { mode: 'MT_MEAN_REQUANTIZE', inputZeroPoint: inQ.zeroPoint, outputZeroPoint: outQ.zeroPoint, ...q, scale: 0, bias: 0 };
}

/** The TFLite interpreter's choice of kernel and its constants, each float32 step rounded as its C++ rounds it. */
function interpreterMean(inQ: Quant, outQ: Quant, count: number, keepDims: boolean): MeanParams {
  const none = { inputZeroPoint: 0, outputZeroPoint: 0, multiplier: 0, shift: 0, scale: 0, bias: 0 };
  if (keepDims) {
    // optimized_integer_ops::Mean: the raw sum rescaled, then one bias for both zero points.
    let zeroPointShift = f32(f32(inQ.zeroPoint * inQ.scale) / outQ.scale);
    zeroPointShift = zeroPointShift > 0 ? f32(zeroPointShift + 0.5) : f32(zeroPointShift - 0.5);
    const q = quantizeMultiplier(f32(inQ.scale / f32(count * outQ.scale)));
    return { ...none, mode: 'MT_MEAN_REQUANTIZE', outputZeroPoint: outQ.zeroPoint - Math.trunc(zeroPointShift), ...q };
  }
  // reference_ops::Mean, chosen on exact equality of the float32 scales and the zero points.
  if (inQ.scale === outQ.scale && inQ.zeroPoint === outQ.zeroPoint) return { ...none, mode: 'MT_MEAN_DIVIDE' };
  const scale = f32(inQ.scale / outQ.scale);
  return { ...none, mode: 'MT_MEAN_FLOAT', outputZeroPoint: outQ.zeroPoint, scale, bias: f32(-inQ.zeroPoint * scale) };
}

export function lowerMean(graph: Graph, op: OpOf<'MEAN'>, ctx: LowerContext = { numerics: DEFAULT_NUMERICS }): KernelCall {
  return inOperator(op, () => {
    const { input, axis: axisTensor } = opSlots(graph, op);
    const output = opOutput(graph, op);
    const inQ = int8Activation(op, input, 'input');
    const outQ = int8Activation(op, output, 'output');
    if (input.shape.length !== 4) {
      throw opError(op, `input '${input.name}' has shape [${input.shape.join(', ')}]; MEAN is supported on 4-D NHWC tensors only`,
        'express it as a mean over height and width of an (N, H, W, C) tensor (global average pooling)');
    }
    const requested = constInts(op, axisTensor, 'axes');
    const axes = [...new Set(requested.map((a) => (a < 0 ? a + 4 : a)))].sort((a, b) => a - b);
    if (axes.length !== 2 || axes[0] !== 1 || axes[1] !== 2) {
      throw opError(op, `reduces axes [${requested.join(', ')}] of '${input.name}'; only the spatial axes [1, 2] (height and width) are supported`,
        'express the reduction as a mean over height and width (global average pooling)');
    }
    const [n, h, w, c] = input.shape;
    requireShape(op, output, 'output', op.options.keepDims ? [n, 1, 1, c] : [n, c]);
    const count = h * w;
    if (count < 1 || count > MAX_WINDOW) {
      throw opError(op, `averages ${count} elements per channel of '${input.name}'; supported are 1 to ${MAX_WINDOW}`, 'average over a smaller window');
    }

    const p = ctx.numerics === 'tflite' ? interpreterMean(inQ, outQ, count, op.options.keepDims) : tflmMean(inQ, outQ, count);

    return {
      op: op.id,
      fn: 'mt_mean_s8',
      args: [
        { kind: 'struct', name: 'params' },
        { kind: 'dims', values: [n, h, w, c] },
        { kind: 'tensor', tensor: input.id },
        { kind: 'tensor', tensor: output.id },
      ],
      consts: [],
      structs: [paramsStruct('mt_mean_params', {
        mode: p.mode,
        input_zero_point: p.inputZeroPoint,
        output_zero_point: p.outputZeroPoint,
        multiplier: p.multiplier,
        shift: p.shift,
        scale: p.scale,
        bias: p.bias,
      })],
      scratchBytes: 0,
      macs: 0,
    };
  });
}
