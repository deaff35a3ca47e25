/**
 * Pass `planTraining`: a scheme resolved against a graph. Finds the logits (the tensor the loss reads:
 * the input of a final SOFTMAX, through RESHAPEs), the forward operators that lead to them, and for
 * each weighted layer what is trained: its bias, and/or the first channels of its weights.
 */
import type { TensorBlock } from '../ir/tensor_block.ts';
import { McutrainError } from '../errors.ts';
import { elementCount, type Graph, type Operator, type Tensor } from '../ir/graph.ts';
import { activationInputs, inputOf, isWeighted, optionalInput, outputAxis, type WeightedOp } from '../ir/operator_traits.ts';
import { opLabel } from '../lower/ops/checks.ts';
import type { TrainingScheme, WeightUpdate } from './scheme.ts';

export interface TrainedLayer {
  /** Index among weighted layers, and the operator. */
  layer: number;
  op: WeightedOp;
  weights: Tensor;
  bias: Tensor | undefined;
  updateBias: boolean;
  /** Output channels whose weights are trained (the first ones); 0 = weights frozen. */
  weightChannels: number;
  channels: number;
  /** Input channels whose weights are trained (the first ones; an input fraction trains them for every output channel). */
  weightInputChannels: number;
  inputChannels: number;
  /** A CONV_2D without groups or a FULLY_CONNECTED layer: weights whose trained block can stay apart from the rest. */
  splittable: boolean;
}

/**
 * The part of a trained weight tensor that lives in SRAM, seen as rows (output channels) of `rowSize`
 * values: rows [0, rows) x their first `cols` values (firmware: mt_split_filter). Undefined when the
 * whole tensor does: every weight trained; depthwise weights, whose trained channels are a stride
 * through every filter tap (a split there would cost the depthwise kernels a branch per tap); grouped
 * convolutions (the split kernels take none).
 */
export type TrainedSlice = TensorBlock;

export function trainedSlice(l: TrainedLayer): TrainedSlice | undefined {
  if (l.weightChannels === 0 || !l.splittable) return undefined;
  if (l.weightChannels === l.channels && l.weightInputChannels === l.inputChannels) return undefined;
  const rowSize = elementCount(l.weights.shape) / l.channels;
  return { rows: l.weightChannels, cols: rowSize / l.inputChannels * l.weightInputChannels, rowSize };
}

export interface TrainingGraph {
  graph: Graph;
  scheme: TrainingScheme;
  logits: Tensor;
  classes: number;
  /** Forward operators of a training step, in execution order (everything the logits depend on). */
  forward: Operator[];
  /** Every weighted layer of `forward`, trained or not, in order. */
  weightedLayers: WeightedOp[];
  trained: TrainedLayer[];
}

/** Output channels of a weighted layer: OHWI / [out, in] filters lead with them, 1HWC depthwise ends with them. */
export function outputChannels(op: WeightedOp, weights: Tensor): number {
  return weights.shape[outputAxis(op)];
}

export function planTraining(graph: Graph, scheme: TrainingScheme): TrainingGraph {
  const logits = findLogits(graph);
  const forward = operatorsLeadingTo(graph, logits.id);
  const weightedLayers = forward.filter(isWeighted);
  const classes = logits.shape[logits.shape.length - 1];
  if (elementCount(logits.shape) !== classes) {
    throw new McutrainError(`the logits '${logits.name}' have shape [${logits.shape.join(', ')}]; training takes one sample at a time`,
      'export the model with batch size 1');
  }

  const n = weightedLayers.length;
  const resolve = (layer: number): number => {
    const i = layer < 0 ? n + layer : layer;
    if (i < 0 || i >= n) {
      throw new McutrainError(`the scheme names layer ${layer}, but '${graph.name}' has ${n} weighted layers (0 to ${n - 1}, or -1 to -${n})`,
        'list the layers with: mcutrain plan <model> --train "bias:last=1" (or mcutrain inspect)');
    }
    return i;
  };
  const weightFraction = new Map<number, WeightUpdate>();
  for (const w of scheme.weights) {
    const i = resolve(w.layer);
    if (weightFraction.has(i)) throw new McutrainError(`the scheme names the weights of layer ${w.layer} twice`, 'list each layer once');
    weightFraction.set(i, w);
  }
  if (scheme.biasLast > n) {
    throw new McutrainError(`bias:last=${scheme.biasLast} asks for more layers than '${graph.name}' has (${n})`, `use at most bias:last=${n}`);
  }

  const trained: TrainedLayer[] = [];
  weightedLayers.forEach((op, i) => {
    const weights = graph.tensors[inputOf(op, 'weights')];
    const bias = optionalInput(graph, op, 'bias');
    const channels = outputChannels(op, weights);
    const update = weightFraction.get(i);
    const updateBias = i >= n - scheme.biasLast && bias !== undefined;
    if (update === undefined && !updateBias) return;
    if (update !== undefined && weights.dtype !== 'int8') {
      throw new McutrainError(`${opLabel(op)} (layer ${i}) has ${weights.dtype} weights '${weights.name}'; trained weights must be int8`,
        'quantize this layer to int8 (mcutrain quantize --keep-int8) or leave its weights frozen');
    }
    const inputChannels = op.kind === 'DEPTHWISE_CONV_2D' ? 1 : weights.shape[weights.shape.length - 1];
    const inputFraction = update?.inputFraction ?? 1;
    const splittable = op.kind === 'FULLY_CONNECTED' || (op.kind === 'CONV_2D' && graph.tensors[inputOf(op, 'input')].shape[3] === inputChannels);
    const pointwise = op.kind === 'CONV_2D' && weights.shape[1] === 1 && weights.shape[2] === 1;
    if (inputFraction < 1 && !(op.kind === 'FULLY_CONNECTED' || (splittable && pointwise))) {
      throw new McutrainError(`the scheme trains a fraction of the input channels of ${opLabel(op)} (layer ${i}), which is not a 1x1 convolution (without groups) or FULLY_CONNECTED`,
        `train a fraction of its output channels instead (${i}@1/${1 / inputFraction})`);
    }
    trained.push({
      layer: i, op, weights, bias, updateBias,
      weightChannels: update === undefined ? 0 : Math.max(1, Math.floor(channels * update.fraction)),
      channels,
      weightInputChannels: Math.max(1, Math.floor(inputChannels * inputFraction)),
      inputChannels,
      splittable,
    });
  });
  // A tensor updated through two operators would be trained twice per step.
  const users = new Map<number, number>();
  for (const op of graph.operators) for (const t of op.inputs) if (t >= 0) users.set(t, (users.get(t) ?? 0) + 1);
  for (const l of trained) {
    for (const t of [l.weightChannels > 0 ? l.weights : undefined, l.updateBias ? l.bias : undefined]) {
      if (t && (users.get(t.id) ?? 0) > 1) {
        throw new McutrainError(`tensor '${t.name}' of layer ${l.layer} is shared by several operators and cannot be trained in place`,
          'train another layer, or export the model without shared weights');
      }
    }
  }
  if (trained.length === 0) {
    throw new McutrainError(`the scheme trains nothing in '${graph.name}' (the chosen layers have no bias)`, 'train weights, or other layers\' biases');
  }
  return { graph, scheme, logits, classes, forward, weightedLayers, trained };
}

/** The weighted layers a scheme numbers (those the logits depend on, in execution order), and the classes. */
export function trainableLayers(graph: Graph): { layers: WeightedOp[]; classes: number } {
  const logits = findLogits(graph);
  return { layers: operatorsLeadingTo(graph, logits.id).filter(isWeighted), classes: logits.shape[logits.shape.length - 1] };
}

/** The logits: the graph's single output, or the input of the SOFTMAX (and RESHAPEs, DEQUANTIZE) that end the graph. */
function findLogits(graph: Graph): Tensor {
  if (graph.outputs.length !== 1) {
    throw new McutrainError(`'${graph.name}' has ${graph.outputs.length} outputs; training needs one output of class scores`,
      'export a classifier with a single output');
  }
  if (graph.inputs.length !== 1) {
    throw new McutrainError(`'${graph.name}' has ${graph.inputs.length} inputs; training takes one input per sample`, 'export the model with a single input');
  }
  const producer = new Map<number, Operator>();
  for (const op of graph.operators) for (const t of op.outputs) producer.set(t, op);
  let id = graph.outputs[0];
  for (;;) {
    const op = producer.get(id);
    if (!op || !['SOFTMAX', 'RESHAPE', 'DEQUANTIZE'].includes(op.kind)) break;
    id = activationInputs(op)[0];
  }
  const t = graph.tensors[id];
  if (t.dtype !== 'int8') {
    throw new McutrainError(`the logits '${t.name}' are ${t.dtype}; the training engine takes int8 logits`, 'quantize the model to int8');
  }
  return t;
}

/** The operators the tensor depends on, in execution order. */
function operatorsLeadingTo(graph: Graph, tensor: number): Operator[] {
  const needed = new Set<number>([tensor]);
  const keep: Operator[] = [];
  for (let i = graph.operators.length - 1; i >= 0; i--) {
    const op = graph.operators[i];
    if (!op.outputs.some((t) => needed.has(t))) continue;
    keep.push(op);
    for (const t of op.inputs) if (t >= 0) needed.add(t);
  }
  return keep.reverse();
}
