/**
 * SOFTMAX (int8 -> int8) -> mt_softmax_s8. Parameters as TFLite Micro's CalculateSoftmaxParams
 * computes them: PreprocessSoftmaxScaling and CalculateInputRadius with 5 integer bits, in double.
 */
import type { Graph, OpOf } from '../../ir/graph.ts';
import { elementCount } from '../../ir/graph.ts';
import type { KernelCall } from '../kernel_call.ts';
import { paramsStruct } from '../params_structs.ts';
import { quantizeMultiplier, toFloat32, type QuantizedMultiplier } from '../quant_params.ts';
import { inOperator, int8Activation, opError, opOutput } from './checks.ts';
import { opSlots, requireSameElementCount } from './tensor_checks.ts';

/** The integer bits of exp's fixed-point argument in the kernel (gemmlowp Q5.26). */
export const SCALED_DIFF_INTEGER_BITS = 5;
/** The kernel sums exps in Q12.19: more than 4095 of them could overflow, as in TFLite. */
export const MAX_SOFTMAX_DEPTH = 4095;

/**
 * TFLite's PreprocessSoftmaxScaling (double-rounding build): the multiplier that maps an input
 * difference to a Q(inputIntegerBits) value of beta * scale * difference. Requires a result above 1.
 */
export function preprocessSoftmaxScaling(beta: number, inputScale: number, inputIntegerBits: number): QuantizedMultiplier | undefined {
  const maxRealMultiplier = 2 ** 31 - 1;
  const real = Math.min(beta * inputScale * 2 ** (31 - inputIntegerBits), maxRealMultiplier);
  // TFLite's QuantizeMultiplierGreaterThanOne CHECK-fails below this; callers report it.
  if (!(real > 1)) return undefined;
  return quantizeMultiplier(real);
}

/** TFLite's CalculateInputRadius: the largest input difference whose rescaled value still fits. */
export function calculateInputRadius(inputIntegerBits: number, inputLeftShift: number, totalSignedBits = 31): number {
  const maxInputRescaled = (1.0 * ((1 << inputIntegerBits) - 1) * 2 ** (totalSignedBits - inputIntegerBits)) / 2 ** inputLeftShift;
  // floor: the exact radius would rescale to exactly the maximum, so stay strictly below it.
  return Math.floor(maxInputRescaled);
}

export function lowerSoftmax(graph: Graph, op: OpOf<'SOFTMAX'>): KernelCall {
  return inOperator(op, () => {
    const { input } = opSlots(graph, op);
    const output = opOutput(graph, op);
    const inQ = int8Activation(op, input, 'input');
    const outQ = int8Activation(op, output, 'output');
    // TFLite Micro checks these exactly: the kernel's last step assumes them.
    if (outQ.zeroPoint !== -128 || outQ.scale !== 1 / 256) {
      throw opError(op, `output '${output.name}' has scale ${outQ.scale} and zero point ${outQ.zeroPoint}; int8 softmax needs scale 1/256 and zero point -128`,
        'quantize the model with the TFLite converter, which fixes these for SOFTMAX');
    }
    if (input.shape.length < 1) throw opError(op, `input '${input.name}' is a scalar; softmax needs at least one dimension`, 'check the model');
    requireSameElementCount(op, input, output);
    const depth = input.shape[input.shape.length - 1];
    if (depth > MAX_SOFTMAX_DEPTH) {
      throw opError(op, `input '${input.name}' has ${depth} classes in its last dimension; int8 softmax supports at most ${MAX_SOFTMAX_DEPTH} (its fixed-point sum would overflow, as in TFLite)`,
        'split the softmax or run this layer in float');
    }
    const rows = depth === 0 ? 0 : elementCount(input.shape) / depth;

    const beta = toFloat32(op.options.beta);
    const scaling = preprocessSoftmaxScaling(beta, inQ.scale, SCALED_DIFF_INTEGER_BITS);
    if (!scaling) {
      throw opError(op, `beta ${beta} times input scale ${inQ.scale} of '${input.name}' is too small for int8 softmax (TFLite rejects it too)`,
        're-quantize the model: the input range of the softmax is degenerate');
    }
    const diffMin = 0 - calculateInputRadius(SCALED_DIFF_INTEGER_BITS, scaling.shift); // 0 - x: never -0

    return {
      op: op.id,
      fn: 'mt_softmax_s8',
      args: [{ kind: 'struct', name: 'params' }, { kind: 'tensor', tensor: input.id }, { kind: 'tensor', tensor: output.id }],
      consts: [],
      structs: [paramsStruct('mt_softmax_params', {
        input_multiplier: scaling.multiplier,
        input_left_shift: scaling.shift,
        diff_min: diffMin,
        rows: rows,
        depth: depth,
      })],
      scratchBytes: 0,
      macs: 0,
    };
  });
}
