/**
 * RESHAPE -> nothing to run: the output is the input's bytes under another shape, so the call only
 * records that the two tensors share memory (planMemory gives them one buffer). TFLite Micro copies
 * the bytes instead (when the buffers differ); the result is the same.
 */
import type { Graph, OpOf, Tensor } from '../../ir/graph.ts';
import { elementCount, isConstant } from '../../ir/graph.ts';
import type { KernelCall } from '../kernel_call.ts';
import { inOperator, opError, opOutput } from './checks.ts';
import { constInts, opSlots, requireSameElementCount, requireSameQuant } from './tensor_checks.ts';

export function lowerReshape(graph: Graph, op: OpOf<'RESHAPE'>): KernelCall {
  return inOperator(op, () => {
    // The optional second input holds the new shape; the output tensor already has it, and the two must agree.
    const { input, shape: newShape } = opSlots(graph, op);
    const output = opOutput(graph, op);
    if (newShape && isConstant(newShape) && newShape.shape.length === 1) requireNewShape(op, constInts(op, newShape, 'new shape'), input, output);
    if (input.dtype !== output.dtype) {
      throw opError(op, `input '${input.name}' is ${input.dtype} but output '${output.name}' is ${output.dtype}`, 'the model file is malformed; re-export it with the TensorFlow Lite converter');
    }
    requireSameElementCount(op, input, output);
    if (input.dtype === 'int8') requireSameQuant(op, input, 'input', output, 'output');
    if (isConstant(input)) {
      // An alias of Flash data cannot be an arena tensor; the converter normally folds this away.
      throw opError(op, `reshapes the constant '${input.name}'`, 'fold the constant reshape when converting (the TFLite converter does by default)');
    }
    return { op: op.id, fn: null, args: [], consts: [], structs: [], scratchBytes: 0, aliases: [{ output: output.id, input: input.id }], macs: 0 };
  });
}

/**
 * The shape the interpreter computes from the shape input (one -1 takes the remaining elements) must be
 * the output tensor's: the engine follows the output tensor, TFLite the shape input, so a file where they
 * differ would run differently here and there.
 */
function requireNewShape(op: OpOf<'RESHAPE'>, values: number[], input: Tensor, output: Tensor): void {
  const known = values.filter((d) => d !== -1);
  const inferred = values.length - known.length === 1 && known.every((d) => d > 0) ? elementCount(input.shape) / elementCount(known) : undefined;
  const resolved = values.map((d) => (d === -1 ? inferred ?? -1 : d));
  if (resolved.length !== output.shape.length || resolved.some((d, i) => d !== output.shape[i])) {
    throw opError(op, `its shape input asks for [${values.join(', ')}] but its output '${output.name}' has shape [${output.shape.join(', ')}]`,
      'the model file is malformed; re-export it with the TensorFlow Lite converter');
  }
}
