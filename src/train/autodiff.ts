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
 * - Gradients are float32 tensors added to (a copy of) the graph, named "grad:<tensor>", so the same
 *   memory planner places them with the activations.
 */
import { McutrainError } from '../errors.ts';
import { isConstant, type Graph, type Operator, type Tensor } from '../ir/graph.ts';
import { opLabel } from '../lower/ops/checks.ts';
import { WEIGHTED_KINDS, type TrainedLayer, type TrainingGraph } from './training_graph.ts';

export type BackwardOp =
  /** Softmax cross-entropy of the logits: loss, prediction, and (when updating) dL/dlogits. */
  | { kind: 'loss'; logits: number; grad: number }
  /** Zeroes the gradient where the forward int8 output sat at its clamp bounds (ReLU, ReLU6, saturation). */
  | { kind: 'mask'; op: Operator; output: number; grad: number }
  /** Gradient of one operator input, written or added to gradIn. */
  | { kind: 'grad_input'; op: Operator; input: number; gradOut: number; gradIn: number; accumulate: boolean }
  /** The input gradient is the output gradient itself (RESHAPE, one input of ADD): the two share memory. */
  | { kind: 'alias'; op: Operator; gradOut: number; gradIn: number }
  | { kind: 'update_weights'; layer: TrainedLayer; input: number; gradOut: number }
  | { kind: 'update_bias'; layer: TrainedLayer; gradOut: number };

export interface BackwardSchedule {
  /** The graph with the gradient tensors appended. */
  graph: Graph;
  ops: BackwardOp[];
  /** Forward operators whose backward runs (the rest of the backward graph was pruned). */
  differentiated: Operator[];
}

/** Operators whose int8 output is clamped (fused activation or int8 saturation), so the gradient needs the mask. */
const CLAMPED: ReadonlySet<string> = new Set(['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED', 'ADD', 'AVERAGE_POOL_2D', 'MEAN']);
const DIFFERENTIABLE: ReadonlySet<string> = new Set([...CLAMPED, 'PAD', 'RESHAPE']);

export function deriveBackward(tg: TrainingGraph): BackwardSchedule {
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
  const newGrad = (of: number): number => {
    const t = base.tensors[of];
    const id = tensors.length;
    tensors.push({ id, name: `grad:${t.name}`, dtype: 'float32', shape: [...t.shape] });
    gradOf.set(of, id);
    return id;
  };

  const ops: BackwardOp[] = [{ kind: 'loss', logits: tg.logits.id, grad: newGrad(tg.logits.id) }];
  const differentiated: Operator[] = [];
  for (let i = tg.forward.length - 1; i >= 0; i--) {
    const op = tg.forward[i];
    const output = op.outputs[0];
    const gradOut = gradOf.get(output);
    if (gradOut === undefined || !needsGrad.has(output)) continue; // nothing downstream reaches the loss
    if (!DIFFERENTIABLE.has(op.kind)) {
      throw new McutrainError(`${opLabel(op)} lies between the loss and a trained layer, and the training engine cannot differentiate ${op.kind}`,
        'train only layers after it (bias:last / weights:layers closer to the output)');
    }
    differentiated.push(op);
    if (CLAMPED.has(op.kind)) ops.push({ kind: 'mask', op, output, grad: gradOut });

    // Input gradients (with the old weights), for inputs that need one.
    const inputs = op.kind === 'ADD' ? op.inputs : [op.inputs[0]];
    for (const input of inputs) {
      if (!isActivation(input) || !needsGrad.has(input)) continue;
      const existing = gradOf.get(input);
      const shareable = (op.kind === 'RESHAPE' || op.kind === 'ADD') && existing === undefined && !aliasedAlready(ops, gradOut);
      if (shareable) {
        gradOf.set(input, gradOut);
        ops.push({ kind: 'alias', op, gradOut, gradIn: gradOut });
        continue;
      }
      if (WEIGHTED_KINDS.has(op.kind) && base.tensors[op.inputs[1]].dtype !== 'int8') {
        throw new McutrainError(`${opLabel(op)} has ${base.tensors[op.inputs[1]].dtype} weights, and the gradient must flow through it to a trained layer`,
          'keep this layer int8 (mcutrain quantize --keep-int8), or train only layers after it');
      }
      const gradIn = existing ?? newGrad(input);
      ops.push({ kind: 'grad_input', op, input, gradOut, gradIn, accumulate: existing !== undefined });
    }

    // In-place updates, right after the gradient they read.
    const layer = trainedByOp.get(op.id);
    if (layer && layer.weightChannels > 0) ops.push({ kind: 'update_weights', layer, input: op.inputs[0], gradOut });
    if (layer && layer.updateBias) ops.push({ kind: 'update_bias', layer, gradOut });
  }
  return { graph, ops, differentiated };
}

/** An ADD gives its output gradient to one input by sharing; the other input gets a copy. */
function aliasedAlready(ops: BackwardOp[], gradOut: number): boolean {
  return ops.some((o) => o.kind === 'alias' && o.gradOut === gradOut);
}
