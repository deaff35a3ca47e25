/**
 * Checks on how an operator's tensors relate to each other (counts, shapes, shared quantization) and
 * on its constant operands (axes, paddings), complementing checks.ts. Errors name the operator.
 */
import type { Graph, Operator, OpKind, OpOf, Tensor } from '../../ir/graph.ts';
import { inputCounts, traitsOf, type SlotOf } from '../../ir/operator_traits.ts';
import { elementCount } from '../../ir/graph.ts';
import { constantValues } from '../../ir/tensor_data.ts';
import { int8Activation, opError } from './checks.ts';

const MALFORMED = 'the model file is malformed; re-export it with the TensorFlow Lite converter';

/** The operator's input tensors by slot name (an absent optional one undefined). */
export type SlotTensors<K extends OpKind> = { [S in SlotOf<K> as S['name']]: S extends { optional: true } ? Tensor | undefined : Tensor };

/** The operator's inputs by slot name, checking their count against its slots and that none given is absent. */
export function opSlots<K extends OpKind>(graph: Graph, op: OpOf<K>): SlotTensors<K> {
  const { required, optional } = inputCounts(op.kind);
  const tensors = opInputs(graph, op, required, required + optional);
  return Object.fromEntries(traitsOf(op.kind).inputs.map((s, i) => [s.name, tensors[i]])) as SlotTensors<K>;
}

/** The operator's inputs, checking there are `min`..`max` of them and none is absent. */
export function opInputs(graph: Graph, op: Operator, min: number, max = min): Tensor[] {
  if (op.inputs.length < min || op.inputs.length > max) {
    throw opError(op, `has ${op.inputs.length} inputs, expected ${min === max ? min : `${min} to ${max}`}`, MALFORMED);
  }
  return op.inputs.map((id, i) => {
    const t = id >= 0 ? graph.tensors[id] : undefined;
    if (!t) throw opError(op, `input ${i} is missing`, MALFORMED);
    return t;
  });
}

/**
 * Both tensors int8 with one identical scale and zero point, for operators that move raw bytes and
 * therefore cannot rescale (TFLite Micro's kernels copy them unchanged).
 */
export function requireSameQuant(op: Operator, a: Tensor, aRole: string, b: Tensor, bRole: string): void {
  const qa = int8Activation(op, a, aRole);
  const qb = int8Activation(op, b, bRole);
  if (qa.scale !== qb.scale || qa.zeroPoint !== qb.zeroPoint) {
    throw opError(op,
      `${aRole} '${a.name}' (scale ${qa.scale}, zero point ${qa.zeroPoint}) and ${bRole} '${b.name}' (scale ${qb.scale}, zero point ${qb.zeroPoint}) are quantized differently; ${op.kind} copies int8 values unchanged`,
      'quantize the model so these tensors share one scale and zero point (the TFLite converter does)');
  }
}

export function requireSameElementCount(op: Operator, input: Tensor, output: Tensor): number {
  const n = elementCount(input.shape);
  if (elementCount(output.shape) !== n) {
    throw opError(op, `output '${output.name}' [${output.shape.join(', ')}] and input '${input.name}' [${input.shape.join(', ')}] hold different numbers of elements`, MALFORMED);
  }
  return n;
}

/** A shape of rank <= 4 as NHWC, leading dimensions filled with 1 (TFLite's RuntimeShape::ExtendedShape). */
export function shape4d(op: Operator, t: Tensor, role: string): [number, number, number, number] {
  if (t.shape.length > 4) {
    throw opError(op, `${role} '${t.name}' has ${t.shape.length} dimensions; at most 4 are supported`, 'reshape the model to tensors of 4 or fewer dimensions');
  }
  const s = [1, 1, 1, 1, ...t.shape].slice(-4);
  return [s[0], s[1], s[2], s[3]];
}

/** The values of a constant int32/int64 operand (axes, paddings), or an error if it is computed at run time. */
export function constInts(op: Operator, t: Tensor, what: string): number[] {
  if (!t.data) throw opError(op, `${what} '${t.name}' is computed at run time; it must be a constant`, `export the model with constant ${what}`);
  if (t.dtype !== 'int32' && t.dtype !== 'int64') throw opError(op, `${what} '${t.name}' is ${t.dtype}, expected int32`, MALFORMED);
  return Array.from(constantValues(t));
}
