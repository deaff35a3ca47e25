/**
 * Passes `autodiff` + `pruneBackward` + `reorderUpdates`, done in one walk: derives, at compile time,
 * the backward schedule of a training step, already pruned to what the scheme needs and with every
 * update placed right after the gradient it consumes.
 *
 * - An activation gets a gradient only if a trained layer lies at or before it on some path (no input
 *   gradient below the earliest trained layer, none into branches that train nothing).
 * - A frozen layer computes only its input gradient; a trained one also updates its weights and/or
 *   bias in place, right after its input gradient (which needs the old weights), so no weight
 *   gradient buffer ever exists and the output gradient dies at that layer.
 * - Gradients are tensors added to (a copy of) the graph, named "grad:<tensor>", so the same memory
 *   planner places them with the activations: float32, or int16 / int8 with the scheme's `grad`; so
 *   are the 1-bit clamp masks ("mask:<tensor>").
 *
 * With `reorder: false` the schedule models the conventional order instead (what the paper compares
 * against): each trained tensor's float32 gradient is materialized in its own buffer when computed,
 * and every update is applied after the whole backward pass, so those buffers live until the end.
 * That schedule exists for the memory planner only (a figure for comparison); no kernels implement it.
 */
import { McutrainError } from '../errors.ts';
import { isConstant, type DType, type Graph, type Operator, type Tensor } from '../ir/graph.ts';
import { activationInputs, inputOf, isWeighted, outputAxis, traitsOf } from '../ir/operator_traits.ts';
import { opLabel } from '../lower/ops/checks.ts';
import type { GradType } from './scheme.ts';
import { inPlaceGradients } from './in_place.ts';
import { maskTensor } from './clamp_masks.ts';
import { type TrainedLayer, type TrainingGraph } from './training_graph.ts';

/** The tensor type of a gradient stored as `grad`. */
export const GRAD_DTYPES: Record<GradType, DType> = { f32: 'float32', i16: 'int16', i8: 'int8' };

export type BackwardOp =
  /** Softmax cross-entropy of the logits: loss, prediction, and (when updating) dL/dlogits. */
  | { kind: 'loss'; logits: number; grad: number }
  /**
   * Zeroes the gradient where the forward int8 output sat at its clamp bounds (ReLU, ReLU6, saturation),
   * from `bits`, the 1-bit mask the forward pass packs (clamp_masks.ts). `projected` at the logits (no
   * bits: it reads the int8 logits): only gradients that would push a saturated logit further out are zeroed.
   */
  | { kind: 'mask'; op: Operator; output: number; grad: number; projected: boolean; bits?: number }
  /** Gradient of one operator input, written or added to gradIn; `inPlace`: written over gradOut (in_place.ts). */
  | { kind: 'grad_input'; op: Operator; input: number; gradOut: number; gradIn: number; accumulate: boolean; inPlace?: boolean }
  /** The input gradient is the output gradient itself (RESHAPE, one input of ADD): the two share memory. */
  | { kind: 'alias'; op: Operator; gradOut: number; gradIn: number }
  | UpdateOp
  /** Without reordering: the gradient an update would consume, materialized in `grad` (float32). */
  | { kind: 'param_grad'; update: UpdateOp; grad: number }
  /** Without reordering: the update applied from its materialized gradient, after the backward pass. */
  | { kind: 'apply_update'; update: UpdateOp; grad: number };

/** A fused gradient + in-place SGD step of one trained tensor. */
export type UpdateOp =
  | { kind: 'update_weights'; layer: TrainedLayer; input: number; gradOut: number }
  | { kind: 'update_bias'; layer: TrainedLayer; gradOut: number };

export interface BackwardOptions {
  /** Each update right after the gradient it reads (default), or all after the backward pass (planning only). */
  reorder?: boolean;
  /** Input gradients written over their output gradient where legal (default; in_place.ts). Needs reorder. */
  inPlace?: boolean;
}

export interface BackwardSchedule {
  /** The graph with the gradient tensors appended. */
  graph: Graph;
  ops: BackwardOp[];
  /** Forward operators whose backward runs (the rest of the backward graph was pruned). */
  differentiated: Operator[];
  /** Inputs saved for a weight update as their first channels only (an input fraction): the forward pass copies them. */
  savedSlices: SavedSlice[];
}

/** The first `channels` channels of a trained layer's input, copied by the forward pass for its weight update. */
export interface SavedSlice {
  layer: TrainedLayer;
  from: number;
  to: number;
}

export function deriveBackward(tg: TrainingGraph, options: BackwardOptions = {}): BackwardSchedule {
  const reorder = options.reorder ?? true;
  const base = tg.graph;
  const tensors: Tensor[] = [...base.tensors];
  const graph: Graph = { ...base, tensors };
  const trainedByOp = new Map(tg.trained.map((l) => [l.op.id, l]));
  const isActivation = (id: number) => id >= 0 && !isConstant(base.tensors[id]);

  // Which activations need a gradient: those downstream of a trained layer.
  const needsGrad = new Set<number>();
  for (const op of tg.forward) {
    if (trainedByOp.has(op.id) || op.inputs.some((t) => needsGrad.has(t))) for (const t of op.outputs) needsGrad.add(t);
  }

  const gradOf = new Map<number, number>();
  const gradDtype = GRAD_DTYPES[tg.scheme.grad ?? 'f32'];
  const addGradTensor = (of: Tensor, shape: number[], dtype: DType = gradDtype): number => {
    const id = tensors.length;
    tensors.push({ id, name: `grad:${of.name}`, dtype, shape });
    return id;
  };
  const newGrad = (of: number): number => {
    const id = addGradTensor(base.tensors[of], [...base.tensors[of].shape]);
    gradOf.set(of, id);
    return id;
  };

  const ops: BackwardOp[] = [{ kind: 'loss', logits: tg.logits.id, grad: newGrad(tg.logits.id) }];
  // Without reordering, updates wait here, each with the buffer holding its gradient.
  const deferred: { update: UpdateOp; grad: number }[] = [];
  const update = (u: UpdateOp) => {
    if (reorder) {
      ops.push(u);
      return;
    }
    const grad = addGradTensor(u.kind === 'update_weights' ? u.layer.weights : u.layer.bias!, trainedShape(u), 'float32');
    ops.push({ kind: 'param_grad', update: u, grad });
    deferred.push({ update: u, grad });
  };
  const differentiated: Operator[] = [];
  const savedSlices: SavedSlice[] = [];
  /** What a weight update reads of its input: the whole input, or (input fraction) a slice of its first channels. */
  const savedInput = (layer: TrainedLayer, input: number): number => {
    if (layer.weightInputChannels === layer.inputChannels) return input;
    const t = base.tensors[input];
    const id = tensors.length;
    tensors.push({ ...t, id, name: `saved:${t.name}`, shape: [...t.shape.slice(0, -1), layer.weightInputChannels] });
    savedSlices.push({ layer, from: input, to: id });
    return id;
  };
  for (let i = tg.forward.length - 1; i >= 0; i--) {
    const op = tg.forward[i];
    const output = op.outputs[0];
    const gradOut = gradOf.get(output);
    if (gradOut === undefined || !needsGrad.has(output)) continue; // nothing downstream reaches the loss
    const traits = traitsOf(op.kind);
    if (traits.gradient === 'none') {
      throw new McutrainError(`${opLabel(op)} lies between the loss and a trained layer, and the training engine cannot differentiate ${op.kind}`,
        'train only layers after it (bias:last / weights:layers closer to the output)');
    }
    differentiated.push(op);
    // An int8 output clamped by a fused activation or int8 saturation: the gradient needs the mask.
    if (traits.clamp) {
      const projected = output === tg.logits.id;
      const bits = projected ? undefined : tensors.push(maskTensor(base.tensors[output], tensors.length)) - 1;
      ops.push({ kind: 'mask', op, output, grad: gradOut, projected, bits });
    }

    // Input gradients (with the old weights), for inputs that need one.
    for (const input of activationInputs(op)) {
      if (!isActivation(input) || !needsGrad.has(input)) continue;
      const existing = gradOf.get(input);
      const shareable = traits.gradient === 'identity' && existing === undefined && !aliasedAlready(ops, gradOut);
      if (shareable) {
        gradOf.set(input, gradOut);
        ops.push({ kind: 'alias', op, gradOut, gradIn: gradOut });
        continue;
      }
      const weights = isWeighted(op) ? base.tensors[inputOf(op, 'weights')] : undefined;
      if (weights && weights.dtype !== 'int8') {
        throw new McutrainError(`${opLabel(op)} has ${weights.dtype} weights, and the gradient must flow through it to a trained layer`,
          'keep this layer int8 (mcutrain quantize --keep-int8), or train only layers after it');
      }
      const gradIn = existing ?? newGrad(input);
      ops.push({ kind: 'grad_input', op, input, gradOut, gradIn, accumulate: existing !== undefined });
    }

    // In-place updates, right after the gradient they read (or, without reordering, their gradients).
    const layer = trainedByOp.get(op.id);
    if (layer && layer.weightChannels > 0) update({ kind: 'update_weights', layer, input: savedInput(layer, inputOf(layer.op, 'input')), gradOut });
    if (layer && layer.updateBias) update({ kind: 'update_bias', layer, gradOut });
  }
  for (const d of deferred) ops.push({ kind: 'apply_update', ...d });
  return { graph, ops: reorder && (options.inPlace ?? true) ? inPlaceGradients(graph, ops) : ops, differentiated, savedSlices };
}

/** Shape of the trained part of a tensor: the first `weightChannels` output channels of the weights, or the whole bias. */
function trainedShape(u: UpdateOp): number[] {
  const l = u.layer;
  if (u.kind === 'update_bias') return [...l.bias!.shape];
  const shape = [...l.weights.shape];
  shape[outputAxis(l.op)] = l.weightChannels;
  if (l.weightInputChannels < l.inputChannels) shape[shape.length - 1] = l.weightInputChannels;
  return shape;
}

/** An ADD gives its output gradient to one input by sharing; the other input gets a copy. */
function aliasedAlready(ops: BackwardOp[], gradOut: number): boolean {
  return ops.some((o) => o.kind === 'alias' && o.gradOut === gradOut);
}
