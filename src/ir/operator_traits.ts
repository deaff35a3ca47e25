/**
 * What every pass needs to know about an operator kind, in one table: its input slots by name (as
 * TensorFlow Lite Micro's kernels name them: kConvWeightsTensor is CONV_2D's 'weights'), whether it is a
 * weighted layer, how the quantizer picks its output's quantization, how training differentiates it,
 * and whether patch-based execution can run it on a window. The table is a Record over OpKind, so a new
 * kind fails to type-check until it is described here (docs/adding_an_operator.md).
 */
import type { Graph, Operator, OpKind, Tensor } from './graph.ts';

/**
 * What an input slot holds: an activation (computed at run time, or a constant operand the quantizer
 * treats as one), a weighted layer's constant weights or int32 bias, or a constant int32 parameter of
 * the operation itself (a shape, axes, paddings).
 */
export type SlotRole = 'activation' | 'weights' | 'bias' | 'parameter';

export interface InputSlot {
  readonly name: string;
  readonly role: SlotRole;
  /** May be absent (missing, or -1 in the model). Only trailing slots are optional. */
  readonly optional?: boolean;
  /** Takes every remaining input (CONCATENATION's values): one or more. Only the last slot. */
  readonly variadic?: boolean;
}

/**
 * How training's backward pass treats an operator: 'kernel': an input-gradient kernel computes the
 * gradient (train/lower_backward.ts); 'identity': the input gradient is the output gradient itself,
 * shared where possible, else copied (RESHAPE, each input of ADD); 'none': no gradient flows through it
 * (a trained layer below it cannot be trained).
 */
export type Gradient = 'kernel' | 'identity' | 'none';

export interface OperatorTraits {
  readonly inputs: readonly InputSlot[];
  /** A weighted layer (weights and optional bias slots): the axis of its weights that holds the output channels. */
  readonly weights?: { readonly outputAxis: 0 | 3 };
  /**
   * The int8 output's quantization (quantize/): from its calibrated range, the input's own (kernels that
   * move or compare bytes cannot rescale), or softmax's fixed 1/256 (TFLite's int8 spec).
   */
  readonly outputQuant: 'calibrated' | 'input' | 'softmax';
  readonly gradient: Gradient;
  /**
   * A differentiated operator whose int8 output is clamped, so the backward pass zeroes the gradient
   * where the output sat at a bound (train/clamp_masks.ts): at its fused activation's range, or (no fused
   * activation) at int8's own.
   */
  readonly clamp?: 'activation' | 'int8';
  /** Its output window depends on a window of its input only: patch-based execution can run it (plan/patch_stage.ts). */
  readonly local: boolean;
}

const INPUT = { name: 'input', role: 'activation' } as const;
/** TFLite's kXxxInputTensor, kXxxWeightsTensor, kXxxBiasTensor of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED. */
const WEIGHTED_SLOTS = [INPUT, { name: 'weights', role: 'weights' }, { name: 'bias', role: 'bias', optional: true }] as const;

export const OPERATOR_TRAITS = {
  CONV_2D: { inputs: WEIGHTED_SLOTS, weights: { outputAxis: 0 }, outputQuant: 'calibrated', gradient: 'kernel', clamp: 'activation', local: true },
  DEPTHWISE_CONV_2D: { inputs: WEIGHTED_SLOTS, weights: { outputAxis: 3 }, outputQuant: 'calibrated', gradient: 'kernel', clamp: 'activation', local: true },
  FULLY_CONNECTED: { inputs: WEIGHTED_SLOTS, weights: { outputAxis: 0 }, outputQuant: 'calibrated', gradient: 'kernel', clamp: 'activation', local: false },
  AVERAGE_POOL_2D: { inputs: [INPUT], outputQuant: 'input', gradient: 'kernel', clamp: 'activation', local: true },
  MAX_POOL_2D: { inputs: [INPUT], outputQuant: 'input', gradient: 'none', local: true },
  ADD: {
    inputs: [{ name: 'input1', role: 'activation' }, { name: 'input2', role: 'activation' }],
    outputQuant: 'calibrated', gradient: 'identity', clamp: 'activation', local: true,
  },
  MEAN: { inputs: [INPUT, { name: 'axis', role: 'parameter' }], outputQuant: 'calibrated', gradient: 'kernel', clamp: 'int8', local: false },
  PAD: { inputs: [INPUT, { name: 'paddings', role: 'parameter' }], outputQuant: 'input', gradient: 'kernel', local: true },
  // The target shape is the optional second input (or the output's shape).
  RESHAPE: { inputs: [INPUT, { name: 'shape', role: 'parameter', optional: true }], outputQuant: 'input', gradient: 'identity', local: false },
  SOFTMAX: { inputs: [INPUT], outputQuant: 'softmax', gradient: 'none', local: false },
  CONCATENATION: { inputs: [{ name: 'values', role: 'activation', variadic: true }], outputQuant: 'calibrated', gradient: 'none', local: false },
  QUANTIZE: { inputs: [INPUT], outputQuant: 'calibrated', gradient: 'none', local: false },
  DEQUANTIZE: { inputs: [INPUT], outputQuant: 'calibrated', gradient: 'none', local: false },
  RELU: { inputs: [INPUT], outputQuant: 'input', gradient: 'none', local: false },
  RELU6: { inputs: [INPUT], outputQuant: 'input', gradient: 'none', local: false },
} as const satisfies Record<OpKind, OperatorTraits>;

type Table = typeof OPERATOR_TRAITS;

/** The kinds with weights (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED), and their operators. */
export type WeightedKind = { [K in OpKind]: Table[K] extends { weights: object } ? K : never }[OpKind];
export type WeightedOp = Extract<Operator, { kind: WeightedKind }>;

/** The operators training cannot differentiate (a backward lowering's `default:` takes exactly these). */
export type NonDifferentiableOp = Extract<Operator, { kind: { [K in OpKind]: Table[K]['gradient'] extends 'none' ? K : never }[OpKind] }>;

/** The slot names of kind K. */
export type SlotName<K extends OpKind> = Table[K]['inputs'][number]['name'];
/** The slot names every kind of the union K has (what an operator of any of those kinds can be asked for). */
export type CommonSlot<K extends OpKind> =
  { [k in K]: (name: SlotName<k>) => void }[K] extends (name: infer S) => void ? S : never;

export function traitsOf(kind: OpKind): OperatorTraits {
  return OPERATOR_TRAITS[kind];
}

export function isWeighted(op: Operator): op is WeightedOp {
  return traitsOf(op.kind).weights !== undefined;
}

/** The axis of a weighted layer's weights that holds its output channels (OHWI, [out, in]: 0; depthwise 1HWC: 3). */
export function outputAxis(op: WeightedOp): 0 | 3 {
  return OPERATOR_TRAITS[op.kind].weights.outputAxis;
}

/** Position of `slot` among the kind's inputs. */
export function slotIndex(kind: OpKind, slot: string): number {
  const index = traitsOf(kind).inputs.findIndex((s) => s.name === slot);
  if (index < 0) throw new Error(`${kind} has no input slot '${slot}'`);
  return index;
}

export type SlotOf<K extends OpKind> = Table[K]['inputs'][number];
/** An operator's inputs by slot name (optional slots may be left out). */
export type NamedInputs<K extends OpKind> =
  & { [S in SlotOf<K> as S extends { optional: true } ? never : S['name']]: number }
  & { [S in SlotOf<K> as S extends { optional: true } ? S['name'] : never]?: number };

/** The inputs array of an operator of `kind`, from its inputs by slot name (absent optional slots at the end left out, inner ones -1). */
export function slotInputs<K extends OpKind>(kind: K, named: NamedInputs<K>): number[] {
  const byName = named as Record<string, number | undefined>;
  const inputs = traitsOf(kind).inputs.map((s) => byName[s.name] ?? -1);
  while (inputs.length > 0 && inputs[inputs.length - 1] < 0) inputs.pop();
  return inputs;
}

/** The tensor id in the operator's input `slot`; -1 when an optional input is absent. */
export function inputOf<O extends Operator>(op: O, slot: CommonSlot<O['kind']>): number {
  return op.inputs[slotIndex(op.kind, slot as string)] ?? -1;
}

/** The tensor in the operator's input `slot`, or undefined when an optional input is absent. */
export function optionalInput<O extends Operator>(graph: Graph, op: O, slot: CommonSlot<O['kind']>): Tensor | undefined {
  const id = inputOf(op, slot);
  return id >= 0 ? graph.tensors[id] : undefined;
}

/** The role of the operator's i-th input (a variadic last slot takes every remaining one). */
export function roleOfInput(kind: OpKind, i: number): SlotRole | undefined {
  const slots = traitsOf(kind).inputs;
  const last = slots[slots.length - 1];
  return (slots[i] ?? (last?.variadic ? last : undefined))?.role;
}

/** The present inputs of the operator that hold activations (not weights, bias or parameters), in order. */
export function activationInputs(op: Operator): number[] {
  return op.inputs.filter((id, i) => id >= 0 && roleOfInput(op.kind, i) === 'activation');
}

/** How many inputs a kind takes: the first `required` must be present; up to `optional` more may follow. */
export function inputCounts(kind: OpKind): { required: number; optional: number } {
  const slots = traitsOf(kind).inputs;
  const required = slots.filter((s) => !s.optional).length;
  return { required, optional: slots.some((s) => s.variadic) ? Infinity : slots.length - required };
}
