/**
 * CONCATENATION (int8, any axis, 1 to 10 inputs) -> mt_concatenation<N>_s8, the entry point for N
 * inputs, so every input stays a plain tensor argument of the one call. TFLite Micro copies int8
 * bytes without rescaling; we therefore require what it silently assumes: one scale and zero point
 * on all inputs and the output.
 */
import type { Graph, OpOf } from '../../ir/graph.ts';
import { elementCount } from '../../ir/graph.ts';
import type { KernelArg, KernelCall } from '../kernel_call.ts';
import { paramsStruct } from '../params_structs.ts';
import { inOperator, opError, opOutput, requireShape } from './checks.ts';
import { opInputs, requireSameQuant } from './tensor_checks.ts';

/** TFLite Micro's kMaxInputNum; the firmware has one entry point per count up to it. */
export const MAX_CONCATENATION_INPUTS = 10;

export function lowerConcatenation(graph: Graph, op: OpOf<'CONCATENATION'>): KernelCall {
  return inOperator(op, () => {
    const inputs = opInputs(graph, op, 1, MAX_CONCATENATION_INPUTS);
    const output = opOutput(graph, op);
    if (op.options.activation !== 'NONE') {
      throw opError(op, `has fused activation ${op.options.activation}; TFLite supports none on CONCATENATION`, 'the model file is malformed; re-export it with the TensorFlow Lite converter');
    }
    inputs.forEach((t, i) => requireSameQuant(op, t, `input ${i}`, output, 'output'));

    const rank = output.shape.length;
    const axis = op.options.axis < 0 ? op.options.axis + rank : op.options.axis; // TFLite's CalculatePositiveAxis
    if (axis < 0 || axis >= rank) {
      throw opError(op, `axis ${op.options.axis} is outside the ${rank} dimensions of output '${output.name}'`, 'the model file is malformed; re-export it with the TensorFlow Lite converter');
    }
    for (const [i, t] of inputs.entries()) {
      if (t.shape.length !== rank || t.shape.some((d, j) => j !== axis && d !== output.shape[j])) {
        throw opError(op, `input ${i} '${t.name}' has shape [${t.shape.join(', ')}], which does not match output '${output.name}' [${output.shape.join(', ')}] outside axis ${axis}`,
          'the model file is malformed; re-export it with the TensorFlow Lite converter');
      }
    }
    requireShape(op, output, 'output', output.shape.map((d, j) => (j === axis ? inputs.reduce((sum, t) => sum + t.shape[axis], 0) : d)));

    const outer = elementCount(output.shape.slice(0, axis));
    const inner = elementCount(output.shape.slice(axis + 1));
    const sliceSizes = inputs.map((t) => t.shape[axis] * inner);
    const tensorArgs: KernelArg[] = inputs.map((t) => ({ kind: 'tensor', tensor: t.id }));

    return {
      op: op.id,
      fn: `mt_concatenation${inputs.length}_s8`,
      args: [{ kind: 'struct', name: 'params' }, ...tensorArgs, { kind: 'tensor', tensor: output.id }],
      consts: [],
      structs: [paramsStruct('mt_concatenation_params', {
        outer_count: outer,
        slice_sizes: sliceSizes,
      })],
      scratchBytes: 0,
      macs: 0,
    };
  });
}
