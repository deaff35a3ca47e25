/**
 * The training half of compilation: scheme -> planTraining -> deriveBackward (autodiff, pruning,
 * reordering) -> lowerBackward -> planMemory over the whole training step (forward to the logits,
 * loss, backward with in-place updates). The inference schedule keeps its own plan; both share the
 * one arena, which is as large as the larger of the two.
 */
import { McutrainError } from '../errors.ts';
import { elementCount, tensorBytes, type Graph } from '../ir/graph.ts';
import type { KernelCall } from '../lower/kernel_call.ts';
import { planMemory, type MemoryPlan } from '../plan/plan_memory.ts';
import type { TensorBlock } from '../ir/tensor_block.ts';
import { deriveBackward, type BackwardOp, type BackwardOptions } from './autodiff.ts';
import { maskPackCalls, withMaskPacks } from './clamp_masks.ts';
import { lowerBackward, momentumFloats, PLANNING_ONLY_FN } from './lower_backward.ts';
import { narrowGradientCalls } from './narrow_gradients.ts';
import { integerCalls } from './integer_arith.ts';
import { schemeToString, type TrainingScheme } from './scheme.ts';
import { saveSliceCall, splitTensors, splitWeightsView } from './split_weights.ts';
import { planTraining, trainedSlice, type TrainingGraph } from './training_graph.ts';

/** One trained tensor as the device exposes it (READ_PARAMS / WRITE_PARAMS address the concatenation of all of them). */
export interface TrainParamInfo {
  /** Tensor name and id in the imported graph (the .tflite's tensor index). */
  name: string;
  tensor: number;
  kind: 'weights' | 'bias';
  dtype: 'int8' | 'int32';
  /** Bytes of its copy in SRAM: the whole tensor, or its trained block (`slice`). */
  bytes: number;
  /** Byte offset of this tensor in the concatenation of all trained tensors. */
  offset: number;
  /** Output channels that are updated (the first ones), and all of them. */
  channels: number;
  totalChannels: number;
  /** Optimizer state: floats of momentum (0 without momentum); offset in floats in the concatenation. */
  momentumFloats: number;
  momentumOffset: number;
  /** Index of the weighted layer (0 = the first CONV_2D/DEPTHWISE_CONV_2D/FULLY_CONNECTED) and its operator. */
  layer: number;
  op: number;
  /**
   * Present when only a block of a weight tensor lives in SRAM (the rest stays in Flash): seen as rows
   * (output channels) of rowSize values, rows [0, rows) x their first cols values, stored row by row.
   */
  slice?: TensorBlock;
}

export interface TrainingAnalysis {
  tg: TrainingGraph;
  /** The graph with gradient tensors appended (a superset of the inference graph: same ids below). */
  graph: Graph;
  backwardOps: BackwardOp[];
  /** Forward calls of the training step (the inference calls up to the logits, each clamped output the backward needs followed by its mask's pack call). */
  forwardCalls: KernelCall[];
  lossCall: KernelCall;
  backwardCalls: KernelCall[];
  /** The whole step in order: forwardCalls, lossCall, backwardCalls (the plan's steps index it). */
  schedule: KernelCall[];
  plan: MemoryPlan;
  params: TrainParamInfo[];
  paramBytes: number;
  momentumBytes: number;
  macsForward: number;
  macsBackward: number;
  schemeText: string;
  /** Entries of the gradient exponent table (narrow gradients; 0 for float32). */
  gradExponents: number;
  /** False for the conventional order (gradients buffered, updates after the backward pass): a plan to compare, never emitted. */
  reorder: boolean;
  /** An inference call as the training build emits it: reading split trained tensors through their split view (split_weights.ts). */
  inferenceCall: (call: KernelCall) => KernelCall;
}

export type TrainingAnalysisOptions = BackwardOptions;

export function analyzeTraining(graph: Graph, inferenceCalls: KernelCall[], scheme: TrainingScheme, options: TrainingAnalysisOptions = {}): TrainingAnalysis {
  const tg = planTraining(graph, scheme);
  const backward = deriveBackward(tg, options);
  const lowered = lowerBackward(backward.graph, backward.ops, scheme.qas);
  const grad = scheme.grad ?? 'f32';
  let calls = lowered.calls;
  let gradExponents = 0;
  if (grad !== 'f32') {
    // narrow gradient storage, and on it the integer-only kernels (the scheme allows arith=int only with narrow gradients)
    const narrow = narrowGradientCalls(backward.graph, lowered.calls, grad);
    calls = scheme.arith === 'int' ? integerCalls(backward.graph, narrow.calls, grad) : narrow.calls;
    gradExponents = narrow.exponents;
  }
  const loss = calls[0];
  const split = splitTensors(tg.trained.filter((l) => trainedSlice(l)).map((l) => l.weights.id), [...inferenceCalls, ...calls]);
  // An input fraction's update writes the [out][trained inputs] block: its tensor must be split.
  const whole = tg.trained.find((l) => l.weightInputChannels < l.inputChannels && !split.has(l.weights.id));
  if (whole) {
    throw new McutrainError(`layer ${whole.layer} trains a fraction of its input channels, but a kernel of this build reads its weights whole (no split form)`,
      `train a fraction of its output channels (${whole.layer}@1/${whole.inputChannels / whole.weightInputChannels}), or report this scheme`);
  }
  const inferenceCall = splitWeightsView(split);
  const forwardIds = new Set(tg.forward.map((op) => op.id));
  // Each saved input slice is copied right before the layer that reads the whole input; each mask packed right after its operator.
  const forwardCalls = withMaskPacks(inferenceCalls.filter((c) => forwardIds.has(c.op)).flatMap((c) => [
    ...backward.savedSlices.filter((s) => s.layer.op.id === c.op && c.name === undefined)
      .map((s) => saveSliceCall(s, backward.graph.tensors[s.from], backward.graph.tensors[s.to])),
    inferenceCall(c),
  ]), maskPackCalls(backward.graph, backward.ops));
  const backwardCalls = calls.filter((c) => c !== loss).map(inferenceCall);
  const schedule = [...forwardCalls, loss, ...backwardCalls];
  const plan = planMemory(backward.graph, schedule, { liveIn: graph.inputs, liveOut: [] });

  const params: TrainParamInfo[] = [];
  let offset = 0;
  let momentumOffset = 0;
  for (const l of tg.trained) {
    const entries: ['weights' | 'bias', boolean][] = [['weights', l.weightChannels > 0], ['bias', l.updateBias]];
    for (const [kind, on] of entries) {
      if (!on) continue;
      const t = kind === 'weights' ? l.weights : l.bias!;
      const slice = kind === 'weights' && split.has(t.id) ? trainedSlice(l) : undefined;
      const bytes = slice ? slice.rows * slice.cols : tensorBytes(t);
      const mFloats = scheme.momentum > 0 ? momentumFloats(l, kind) : 0;
      params.push({
        name: t.name, tensor: t.id, kind, dtype: kind === 'weights' ? 'int8' : 'int32', bytes, offset,
        channels: kind === 'weights' ? l.weightChannels : l.channels, totalChannels: l.channels,
        momentumFloats: mFloats, momentumOffset, layer: l.layer, op: l.op.id, ...(slice ? { slice } : {}),
      });
      offset += bytes;
      momentumOffset += mFloats;
    }
  }
  const macsForward = forwardCalls.reduce((s, c) => s + c.macs, 0);
  const macsBackward = backwardCalls.reduce((s, c) => s + c.macs, 0);
  return {
    tg, graph: backward.graph, backwardOps: backward.ops, forwardCalls, lossCall: loss, backwardCalls, schedule, plan, params,
    paramBytes: offset, momentumBytes: momentumOffset * 4, macsForward, macsBackward, schemeText: schemeToString(scheme),
    reorder: options.reorder ?? true, gradExponents, inferenceCall,
  };
}

/** Elements of the logits, i.e. classes (batch 1). */
export function classesOf(ta: TrainingAnalysis): number {
  return elementCount(ta.tg.logits.shape);
}

/** A readable name for step `step` of the training schedule (forward calls, loss, backward calls). */
export function trainingCallName(t: TrainingAnalysis, step: number): string {
  const c = t.schedule[step];
  if (!c) return `step ${step}`;
  const kind = t.graph.operators[c.op]?.kind ?? '';
  return c.name ? `${c.name} ${c.fn ?? ''}${kind ? ` (op ${c.op} ${kind})` : ''}` : `op ${c.op} ${kind}`;
}
