/**
 * Standalone RELU / RELU6 on int8 -> mt_requantize_tensor_s8 (see requantize.ts): TFLite's quantized ReluX
 * requantizes from the input's to the output's quantization, then clamps to the activation's range
 * at the output's quantization (the bounds of CalculateActivationRangeQuantized).
 *
 * TFLite Micro's RELU does the same; its RELU6 instead clamps the raw input to [input zero point,
 * quantized 6 of the input] and ignores the output's quantization. Both agree exactly when input
 * and output share quantization (the converter's usual output); otherwise we follow TFLite.
 */
import type { Graph, OpOf } from '../../ir/graph.ts';
import { activationRange } from '../common.ts';
import type { KernelCall } from '../kernel_call.ts';
import { inOperator, int8Activation, opOutput } from './checks.ts';
import { requantizeCall } from './requantize.ts';
import { opSlots } from './tensor_checks.ts';

function lowerReluX(graph: Graph, op: OpOf<'RELU'> | OpOf<'RELU6'>, activation: 'RELU' | 'RELU6'): KernelCall {
  return inOperator(op, () => {
    const { input } = opSlots(graph, op);
    const output = opOutput(graph, op);
    int8Activation(op, output, 'output'); // checked before the clamp is derived from its quantization
    return requantizeCall(op, input, output, activationRange(activation, output));
  });
}

export function lowerRelu(graph: Graph, op: OpOf<'RELU'>): KernelCall {
  return lowerReluX(graph, op, 'RELU');
}

export function lowerRelu6(graph: Graph, op: OpOf<'RELU6'>): KernelCall {
  return lowerReluX(graph, op, 'RELU6');
}
