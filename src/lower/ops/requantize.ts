/**
 * The call shared by QUANTIZE (int8 -> int8) and the standalone RELU / RELU6: mt_requantize_tensor_s8,
 * i.e. TFLite's Requantize / quantized ReluX, which differ only in the clamp. The multiplier is
 * input_scale / output_scale (float32 scales in double), as TFLite's Prepare computes it.
 */
import type { Operator, Tensor } from '../../ir/graph.ts';
import type { KernelCall } from '../kernel_call.ts';
import { paramsStruct } from '../params_structs.ts';
import { quantizeMultiplier } from '../quant_params.ts';
import { int8Activation } from './checks.ts';
import { requireSameElementCount } from './tensor_checks.ts';

export function requantizeCall(op: Operator, input: Tensor, output: Tensor, clamp: { min: number; max: number }): KernelCall {
  const inQ = int8Activation(op, input, 'input');
  const outQ = int8Activation(op, output, 'output');
  const count = requireSameElementCount(op, input, output);
  const { multiplier, shift } = quantizeMultiplier(inQ.scale / outQ.scale);
  return {
    op: op.id,
    fn: 'mt_requantize_tensor_s8',
    args: [{ kind: 'struct', name: 'params' }, { kind: 'tensor', tensor: input.id }, { kind: 'tensor', tensor: output.id }],
    consts: [],
    structs: [paramsStruct('mt_requantize_params', {
      input_zero_point: inQ.zeroPoint,
      output_zero_point: outQ.zeroPoint,
      multiplier: multiplier,
      shift: shift,
      act_min: clamp.min,
      act_max: clamp.max,
      count: count,
    })],
    scratchBytes: 0,
    macs: 0,
  };
}
