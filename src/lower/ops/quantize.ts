/**
 * QUANTIZE and DEQUANTIZE -> firmware/kernels/quantize.c, prepared as TFLite Micro's quantize and
 * dequantize Prepare: float32 -> int8 (mt_quantize_f32_s8, the output's scale and zero point),
 * int8 -> int8 (mt_requantize_tensor_s8, see requantize.ts), int8 -> float32 (mt_dequantize_s8_f32, the
 * input's scale and zero point).
 */
import type { Graph, OpOf, Tensor } from '../../ir/graph.ts';
import type { KernelCall } from '../kernel_call.ts';
import { paramsStruct } from '../params_structs.ts';
import { INT8_MAX, INT8_MIN } from '../common.ts';
import { inOperator, int8Activation, opError, opOutput } from './checks.ts';
import { requantizeCall } from './requantize.ts';
import { opSlots, requireSameElementCount } from './tensor_checks.ts';

/** A call of `fn(&params, input, output)` whose params are an mt_quantize_params (the int8 side's affine map). */
function affineCall(op: { id: number }, fn: string, input: Tensor, output: Tensor, scale: number, zeroPoint: number, count: number): KernelCall {
  return {
    op: op.id,
    fn,
    args: [{ kind: 'struct', name: 'params' }, { kind: 'tensor', tensor: input.id }, { kind: 'tensor', tensor: output.id }],
    consts: [],
    structs: [paramsStruct('mt_quantize_params', {
      // the float32 scale TFLite reads; codegen writes floats so that they read back exactly
      scale,
      zero_point: zeroPoint,
      count,
    })],
    scratchBytes: 0,
    macs: 0,
  };
}

export function lowerQuantize(graph: Graph, op: OpOf<'QUANTIZE'>): KernelCall {
  return inOperator(op, () => {
    const { input } = opSlots(graph, op);
    const output = opOutput(graph, op);
    const count = requireSameElementCount(op, input, output);
    const outQ = int8Activation(op, output, 'output');
    if (input.dtype === 'float32') return affineCall(op, 'mt_quantize_f32_s8', input, output, outQ.scale, outQ.zeroPoint, count);
    if (input.dtype === 'int8') return requantizeCall(op, input, output, { min: INT8_MIN, max: INT8_MAX });
    throw opError(op, `input '${input.name}' is ${input.dtype}; QUANTIZE to int8 is supported from float32 or int8`,
      'feed the model float32 or int8 inputs (re-export it with inference_input_type float32 or int8)');
  });
}

export function lowerDequantize(graph: Graph, op: OpOf<'DEQUANTIZE'>): KernelCall {
  return inOperator(op, () => {
    const { input } = opSlots(graph, op);
    const output = opOutput(graph, op);
    const count = requireSameElementCount(op, input, output);
    const inQ = int8Activation(op, input, 'input');
    if (output.dtype !== 'float32') {
      throw opError(op, `output '${output.name}' is ${output.dtype}; DEQUANTIZE is supported to float32`, 'the model file is malformed; re-export it with the TensorFlow Lite converter');
    }
    return affineCall(op, 'mt_dequantize_s8_f32', input, output, inQ.scale, inQ.zeroPoint, count);
  });
}
