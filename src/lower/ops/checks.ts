/**
 * Validation shared by the operator lowerings. Every error names the operator (index and kind) and
 * the tensor, so the user can find the problem in the model, and says what to do about it.
 */
import type { DType, Graph, Operator, Tensor } from '../../ir/graph.ts';
import { slotIndex, type CommonSlot } from '../../ir/operator_traits.ts';
import { McutrainError } from '../../errors.ts';
import { INT8_MAX, INT8_MIN, inputTensor, perTensorQuant } from '../common.ts';
import { toFloat32 } from '../quant_params.ts';

export function opLabel(op: Operator): string {
  return `operator ${op.id} (${op.kind})`;
}

export function opError(op: Operator, message: string, hint: string): McutrainError {
  return new McutrainError(`${opLabel(op)}: ${message}`, hint);
}

/** Runs a lowering so that errors raised by shared helpers (which know only a tensor) also name the operator. */
export function inOperator<T>(op: Operator, lower: () => T): T {
  try {
    return lower();
  } catch (e) {
    if (e instanceof McutrainError && !e.message.startsWith(opLabel(op))) throw opError(op, e.message, e.hint ?? '');
    throw e;
  }
}

const MALFORMED = 'the model file is malformed or was written by an unsupported converter; re-export it with the TFLite converter';

export function requireDType(op: Operator, t: Tensor, role: string, dtype: DType, hint: string): void {
  if (t.dtype !== dtype) throw opError(op, `${role} '${t.name}' is ${t.dtype}, expected ${dtype}`, hint);
}

export function requireRank(op: Operator, t: Tensor, role: string, rank: number): void {
  if (t.shape.length !== rank) {
    throw opError(op, `${role} '${t.name}' has shape [${t.shape.join(', ')}], expected ${rank} dimensions`, MALFORMED);
  }
}

export function requireShape(op: Operator, t: Tensor, role: string, expected: readonly number[]): void {
  if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
    throw opError(op, `${role} '${t.name}' has shape [${t.shape.join(', ')}], expected [${expected.join(', ')}]`, MALFORMED);
  }
}

export function requirePositive(op: Operator, what: string, values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v < 1) throw opError(op, `${what} ${name} is ${v}, expected a positive integer`, MALFORMED);
  }
}

const QUANTIZE_HINT = 'the int8 engine needs a fully int8-quantized model (TFLite converter with full-integer quantization)';

/** Scale (as the float32 TFLite stores) and zero point of a per-tensor quantized int8 activation. */
export interface ActivationQuant {
  scale: number;
  zeroPoint: number;
}

/** An int8 activation tensor (operator input or output) with one scale and an int8 zero point. */
export function int8Activation(op: Operator, t: Tensor, role: string): ActivationQuant {
  requireDType(op, t, role, 'int8', QUANTIZE_HINT);
  const { scale, zeroPoint } = perTensorQuant(t);
  if (t.quant && t.quant.scale.length !== 1) {
    throw opError(op, `${role} '${t.name}' has ${t.quant.scale.length} scales; activations need one (per-tensor)`, QUANTIZE_HINT);
  }
  if (!(scale > 0) || !Number.isFinite(scale)) throw opError(op, `${role} '${t.name}' has scale ${scale}`, MALFORMED);
  if (!Number.isInteger(zeroPoint) || zeroPoint < INT8_MIN || zeroPoint > INT8_MAX) {
    throw opError(op, `${role} '${t.name}' has zero point ${zeroPoint}, outside int8`, MALFORMED);
  }
  return { scale: toFloat32(scale), zeroPoint };
}

/** TFLite's input offset, minus the zero point (written so that zero point 0 gives +0, never -0). */
export function negatedZeroPoint(zeroPoint: number): number {
  return 0 - zeroPoint;
}

/** The tensor in the operator's input `slot` (must be present). */
export function opInput<O extends Operator>(graph: Graph, op: O, slot: CommonSlot<O['kind']>): Tensor {
  return inputTensor(graph, op.inputs, slotIndex(op.kind, slot as string), opLabel(op));
}

/** The operator's single output. */
export function opOutput(graph: Graph, op: Operator): Tensor {
  const id = op.outputs[0];
  if (id === undefined || id < 0) throw opError(op, 'output is missing', MALFORMED);
  return graph.tensors[id];
}
