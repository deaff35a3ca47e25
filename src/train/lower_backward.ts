/**
 * Lowers the backward schedule (autodiff.ts) to KernelCalls of firmware/kernels/*_backward.c,
 * bias_update.c and train_loss.c (declared in firmware/include/mcutrain/kernels/train.h). As for the
 * forward pass, every parameter is prepared here at compile time: per-channel weight scales, the
 * gradient factors that implement QAS, padding amounts. Backward calls reuse the forward call's
 * parameter struct (strides, pads, offsets; an argument owned by the forward call) instead of storing
 * it twice.
 */
import { elementCount, tensorBytes, type Graph, type Operator, type Tensor } from '../ir/graph.ts';
import { inputOf, isWeighted, type NonDifferentiableOp } from '../ir/operator_traits.ts';
import type { CConst, KernelArg, KernelCall } from '../lower/kernel_call.ts';
import { opError } from '../lower/ops/checks.ts';
import { constInts, shape4d } from '../lower/ops/tensor_checks.ts';
import { window2d } from '../lower/ops/window.ts';
import { toFloat32 } from '../lower/quant_params.ts';
import type { BackwardOp } from './autodiff.ts';
import { clampRange } from './clamp_masks.ts';
import { outputChannels, type TrainedLayer } from './training_graph.ts';

const tensorArg = (tensor: number): KernelArg => ({ kind: 'tensor', tensor });
const int = (value: number): KernelArg => ({ kind: 'int', value });
const float = (value: number): KernelArg => ({ kind: 'float', value });
/** The forward call's parameter struct, which the backward kernels read too. */
const forwardParams = (op: Operator): KernelArg => ({ kind: 'struct', name: 'params', owner: op.id });

/** Scale of each output channel of a weight tensor (a per-tensor scale repeated). */
function channelScales(weights: Tensor, channels: number): number[] {
  const s = weights.quant?.scale ?? [];
  return Array.from({ length: channels }, (_, c) => toFloat32(s.length > 1 ? s[c] : s[0] ?? 0));
}

const inputScale = (t: Tensor): number => toFloat32(t.quant?.scale[0] ?? 0);

/**
 * The factor each real gradient is multiplied by before the SGD step (docs/training.md). With QAS the
 * update of the integer parameter equals float SGD on the real one; without, it is the raw gradient
 * of the integer parameter, which is s^2 times smaller.
 */
export function gradFactors(scales: number[], qas: boolean): number[] {
  return scales.map((s) => (s > 0 ? toFloat32(qas ? 1 / s : s) : 0));
}

export interface BackwardLowering {
  calls: KernelCall[];
  /** The loss call (also calls[0]). */
  loss: KernelCall;
}

export function lowerBackward(graph: Graph, ops: BackwardOp[], qas: boolean): BackwardLowering {
  const calls: KernelCall[] = [];
  ops.forEach((b, index) => {
    const call = lowerOne(graph, b, qas, `bw${index}`);
    if (call) calls.push(call);
  });
  return { calls, loss: calls[0] };
}

/** The backward kernels read real weights as scale * q: weights with a zero point (legacy per-tensor FC) are refused. */
function requireSymmetricWeights(op: Operator, weights: Tensor): void {
  if ((weights.quant?.zeroPoint ?? []).some((z) => z !== 0)) {
    throw opError(op, `has weights '${weights.name}' with a non-zero zero point; the training engine differentiates symmetric int8 weights only`,
      'quantize the model with per-channel symmetric weights (mcutrain quantize), or train only layers after it');
  }
}

function lowerOne(graph: Graph, b: BackwardOp, qas: boolean, name: string): KernelCall | null {
  const T = (id: number) => graph.tensors[id];
  if ((b.kind === 'grad_input' || b.kind === 'update_weights' || b.kind === 'update_bias')) {
    const op = b.kind === 'grad_input' ? b.op : b.layer.op;
    if (isWeighted(op)) requireSymmetricWeights(op, T(inputOf(op, 'weights')));
  }
  const base = { name, consts: [] as CConst[], structs: [], scratchBytes: 0 };
  switch (b.kind) {
    case 'loss': {
      const logits = T(b.logits);
      return {
        ...base, op: -1, fn: 'mt_softmax_xent_s8', name: 'loss',
        args: [tensorArg(b.logits), int(elementCount(logits.shape)), float(logits.quant?.scale[0] ?? 0), int(logits.quant?.zeroPoint[0] ?? 0),
          { kind: 'step_variable', name: 'label' }, { kind: 'tensor', tensor: b.grad, onlyWhenUpdating: true },
          { kind: 'step_variable', name: 'predicted' }],
        tensors: { inputs: [b.logits], outputs: [b.grad] },
        macs: 0,
      };
    }
    case 'mask': {
      const n = elementCount(T(b.output).shape);
      if (b.bits !== undefined) {
        return { ...base, op: b.op.id, fn: 'mt_mask_apply_f32', args: [tensorArg(b.bits), tensorArg(b.grad), int(n)],
          tensors: { inputs: [b.bits, b.grad], outputs: [b.grad] }, macs: 0 };
      }
      const range = clampRange(graph, b);
      return {
        ...base, op: b.op.id, fn: 'mt_clamp_mask_projected_f32',
        args: [tensorArg(b.output), tensorArg(b.grad), int(n), int(range.min), int(range.max)],
        tensors: { inputs: [b.output, b.grad], outputs: [b.grad] },
        macs: 0,
      };
    }
    case 'alias':
      return null; // the two gradients are one tensor: nothing runs
    case 'param_grad':
    case 'apply_update':
      return lowerUnreordered(graph, b, qas, name);
    case 'grad_input':
      return lowerGradInput(graph, b, base);
    case 'update_weights':
      return lowerUpdateWeights(graph, b.layer, b.input, b.gradOut, qas, base);
    case 'update_bias': {
      const l = b.layer;
      const bias = l.bias!;
      const input = T(inputOf(l.op, 'input'));
      const scales = channelScales(l.weights, l.channels).map((s) => toFloat32(s * inputScale(input)));
      const factor: CConst = { name: 'grad_factor', ctype: 'float', values: gradFactors(scales, qas).slice(0, l.channels) };
      return {
        ...base, op: l.op.id, fn: 'mt_bias_update_s32', consts: [factor],
        args: [{ kind: 'dims', values: shape4d(l.op, T(b.gradOut), 'output') }, tensorArg(b.gradOut), tensorArg(bias.id),
          { kind: 'const', name: 'grad_factor' }, int(l.channels), { kind: 'sgd' }, { kind: 'momentum', tensor: bias.id }],
        tensors: { inputs: [b.gradOut], outputs: [] },
        macs: elementCount(T(b.gradOut).shape),
      };
    }
  }
}

type Base = Pick<KernelCall, 'name' | 'consts' | 'structs' | 'scratchBytes'>;

/**
 * Not a C function: the calls of a schedule without operator reordering exist for the memory planner
 * only, and compileModel refuses to emit them (the name would not link if they ever reached C).
 */
export const PLANNING_ONLY_FN = 'mt_planning_only_unreordered_update';

/**
 * The conventional update, as the fused kernel split in two around a float32 gradient buffer: the
 * gradient step reads what the fused kernel reads (so the same activations stay alive) and writes the
 * buffer; the apply step, after the backward pass, reads the buffer and carries the update's constants.
 */
function lowerUnreordered(graph: Graph, b: Extract<BackwardOp, { kind: 'param_grad' | 'apply_update' }>, qas: boolean, name: string): KernelCall {
  const fused = lowerOne(graph, b.update, qas, name)!;
  if (b.kind === 'param_grad') {
    return { ...fused, fn: PLANNING_ONLY_FN, args: [], consts: [], tensors: { inputs: fused.tensors!.inputs, outputs: [b.grad] } };
  }
  return { ...fused, fn: PLANNING_ONLY_FN, args: [], tensors: { inputs: [b.grad], outputs: [] }, macs: elementCount(graph.tensors[b.grad].shape) };
}

function lowerGradInput(graph: Graph, b: Extract<BackwardOp, { kind: 'grad_input' }>, base: Base): KernelCall {
  const op = b.op;
  const T = (id: number) => graph.tensors[id];
  const input = T(b.input);
  const output = T(op.outputs[0]);
  const acc = int(b.accumulate ? 1 : 0);
  const tensors = { inputs: b.accumulate ? [b.gradOut, b.gradIn] : [b.gradOut], outputs: [b.gradIn] };
  const common = { ...base, op: op.id, tensors };
  const dims = (t: Tensor, role: string): KernelArg => ({ kind: 'dims', values: shape4d(op, t, role) });
  switch (op.kind) {
    case 'CONV_2D':
    case 'DEPTHWISE_CONV_2D': {
      const filter = T(inputOf(op, 'weights'));
      if (op.kind === 'CONV_2D' && filter.shape[3] !== input.shape[3]) {
        throw opError(op, `is a grouped convolution (filter depth ${filter.shape[3]}, input depth ${input.shape[3]}); its input gradient is not supported`,
          'train only layers after it');
      }
      const channels = outputChannels(op, filter);
      const scale: CConst = { name: 'filter_scale', ctype: 'float', values: channelScales(filter, channels) };
      if (b.inPlace) return lowerInPlaceDepthwise(graph, b, { ...common, consts: [scale] }, dims);
      return {
        ...common, consts: [scale],
        fn: op.kind === 'CONV_2D' ? 'mt_conv_grad_input_f32' : 'mt_depthwise_conv_grad_input_f32',
        args: [forwardParams(op), dims(input, 'input'), dims(filter, 'filter'), tensorArg(filter.id), { kind: 'const', name: 'filter_scale' },
          dims(output, 'output'), tensorArg(b.gradOut), tensorArg(b.gradIn), acc],
        tensors: { inputs: [...tensors.inputs, filter.id], outputs: tensors.outputs },
        macs: elementCount(output.shape) * elementCount(filter.shape) / channels,
      };
    }
    case 'FULLY_CONNECTED': {
      const weights = T(inputOf(op, 'weights'));
      const [outDepth, accumDepth] = weights.shape;
      const scale: CConst = { name: 'filter_scale', ctype: 'float', values: channelScales(weights, outDepth) };
      const batches = elementCount(input.shape) / accumDepth;
      return {
        ...common, consts: [scale], fn: 'mt_fully_connected_grad_input_f32',
        args: [int(batches), int(accumDepth), int(outDepth), tensorArg(weights.id), { kind: 'const', name: 'filter_scale' },
          tensorArg(b.gradOut), tensorArg(b.gradIn), acc],
        tensors: { inputs: [...tensors.inputs, weights.id], outputs: tensors.outputs },
        macs: batches * outDepth * accumDepth,
      };
    }
    case 'AVERAGE_POOL_2D':
      return {
        ...common, fn: 'mt_avg_pool_grad_f32',
        args: [forwardParams(op), dims(input, 'input'), dims(output, 'output'), tensorArg(b.gradOut), tensorArg(b.gradIn), acc],
        macs: 0,
      };
    case 'MEAN':
      return { ...common, fn: 'mt_mean_hw_grad_f32', args: [dims(input, 'input'), tensorArg(b.gradOut), tensorArg(b.gradIn), acc], macs: 0 };
    case 'PAD': {
      const paddings = constInts(op, T(inputOf(op, 'paddings')), 'paddings');
      const before = [0, 0, 0, 0, ...input.shape.map((_, i) => paddings[2 * i])].slice(-4);
      return {
        ...common, fn: 'mt_pad_grad_f32', consts: [{ name: 'pad_before', ctype: 'int32_t', values: before }],
        args: [dims(input, 'input'), dims(output, 'output'), { kind: 'const', name: 'pad_before' }, tensorArg(b.gradOut), tensorArg(b.gradIn), acc],
        macs: 0,
      };
    }
    case 'RESHAPE':
    case 'ADD': {
      if (elementCount(input.shape) !== elementCount(output.shape)) {
        throw opError(op, `broadcasts '${input.name}' [${input.shape.join(', ')}] to [${output.shape.join(', ')}]; its gradient is not supported`,
          'train only layers after it');
      }
      return { ...common, fn: 'mt_grad_copy_f32', args: [tensorArg(b.gradOut), tensorArg(b.gradIn), int(elementCount(input.shape)), acc], macs: 0 };
    }
    default:
      // Only kinds the traits table calls non-differentiable get here (a differentiable kind needs its case above).
      throw opError(op satisfies NonDifferentiableOp, `has no gradient in the training engine`, 'train only layers after it');
  }
}

/**
 * The depthwise input gradient over its output gradient (in_place.ts): the two tensors share one
 * buffer (the call's alias), and the kernel keeps the output rows it still needs in a ring (scratch).
 */
function lowerInPlaceDepthwise(graph: Graph, b: Extract<BackwardOp, { kind: 'grad_input' }>, common: Base & Pick<KernelCall, 'op' | 'tensors'>,
  dims: (t: Tensor, role: string) => KernelArg): KernelCall {
  const op = b.op as Extract<Operator, { kind: 'DEPTHWISE_CONV_2D' }>;
  const T = (id: number) => graph.tensors[id];
  const filter = T(inputOf(op, 'weights')), output = T(op.outputs[0]), grad = T(b.gradOut);
  const [, inH, inW, depth] = shape4d(op, T(b.input), 'input');
  const [filterH, filterW] = [filter.shape[1], filter.shape[2]];
  // the kernel's ring: the rows the gather still reads below the one it writes, and that one
  const { padH } = window2d(op.options, inH, inW, filterH, filterW);
  const ringRows = Math.max(0, (filterH - 1) * op.options.dilationH - padH) + 1;
  return {
    ...common, fn: 'mt_depthwise_conv_grad_input_inplace_f32',
    args: [forwardParams(op), dims(T(b.input), 'input'), dims(filter, 'filter'), tensorArg(filter.id), { kind: 'const', name: 'filter_scale' },
      dims(output, 'output'), tensorArg(b.gradOut), tensorArg(b.gradIn), { kind: 'scratch' }],
    tensors: { inputs: [b.gradOut, filter.id], outputs: [b.gradIn] },
    aliases: [{ output: b.gradIn, input: b.gradOut }],
    scratchBytes: ringRows * inW * depth * (tensorBytes(grad) / elementCount(grad.shape)),
    macs: elementCount(output.shape) * elementCount(filter.shape) / depth,
  };
}

function lowerUpdateWeights(graph: Graph, l: TrainedLayer, inputId: number, gradOut: number, qas: boolean, base: Base): KernelCall {
  const op = l.op;
  const input = graph.tensors[inputId];
  const output = graph.tensors[op.outputs[0]];
  const factor: CConst = { name: 'grad_factor', ctype: 'float', values: gradFactors(channelScales(l.weights, l.channels), qas).slice(0, l.weightChannels) };
  const common = {
    ...base, op: op.id, consts: [factor],
    tensors: { inputs: [inputId, gradOut], outputs: [] },
    macs: Math.round(elementCount(output.shape) * momentumFloats(l, 'weights') / l.channels),
  };
  // An input fraction: the kernel sees the layer restricted to its first input channels (the saved
  // slice of the input, the [out][in slice] block of the weights in SRAM).
  const filterShape = [...l.weights.shape.slice(0, -1), l.op.kind === 'DEPTHWISE_CONV_2D' ? l.weights.shape[3] : l.weightInputChannels];
  const dims = (t: Tensor, role: string): KernelArg => ({ kind: 'dims', values: shape4d(op, t, role) });
  const sgd: KernelArg[] = [{ kind: 'sgd' }, { kind: 'momentum', tensor: l.weights.id }];
  if (op.kind === 'FULLY_CONNECTED') {
    const [outDepth, accumDepth] = filterShape;
    return {
      ...common, fn: 'mt_fully_connected_update_weights_s8',
      args: [int(elementCount(input.shape) / accumDepth), int(accumDepth), int(outDepth), tensorArg(inputId), float(inputScale(input)),
        int(-(input.quant?.zeroPoint[0] ?? 0)), tensorArg(l.weights.id), { kind: 'const', name: 'grad_factor' }, int(l.weightChannels),
        tensorArg(gradOut), ...sgd],
    };
  }
  return {
    ...common,
    fn: op.kind === 'CONV_2D' ? 'mt_conv_update_weights_s8' : 'mt_depthwise_conv_update_weights_s8',
    args: [forwardParams(op), dims(input, 'input'), tensorArg(inputId), float(inputScale(input)), dims({ ...l.weights, shape: filterShape }, 'filter'),
      tensorArg(l.weights.id), { kind: 'const', name: 'grad_factor' }, int(l.weightChannels), dims(output, 'output'), tensorArg(gradOut), ...sgd],
  };
}

/** Floats of momentum a trained tensor needs: one per trained parameter. */
export function momentumFloats(l: TrainedLayer, kind: 'weights' | 'bias'): number {
  if (kind === 'bias') return l.channels;
  return elementCount(l.weights.shape) / l.channels * l.weightChannels / l.inputChannels * l.weightInputChannels;
}
