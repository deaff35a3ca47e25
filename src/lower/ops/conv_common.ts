/** What CONV_2D and DEPTHWISE_CONV_2D share: the tensor checks, the sliding window and the kernel call. */
import type { Graph, OpOf, Tensor } from '../../ir/graph.ts';
import { activationRange } from '../common.ts';
import type { KernelCall } from '../kernel_call.ts';
import type { CStruct, ParamsValues } from '../params_structs.ts';
import {
  type ActivationQuant, int8Activation, negatedZeroPoint, opInput, opOutput, requirePositive, requireRank, requireShape,
} from './checks.ts';
import type { ChannelRequant } from './mac_common.ts';
import { type Window2d, window2d } from './window.ts';

type ConvOp = OpOf<'CONV_2D'> | OpOf<'DEPTHWISE_CONV_2D'>;

export interface ConvTensors {
  input: Tensor;
  filter: Tensor;
  output: Tensor;
  inQ: ActivationQuant;
  outQ: ActivationQuant;
}

/** Input, filter and output of a convolution, with the checks that do not depend on the filter layout. */
export function convTensors(graph: Graph, op: ConvOp): ConvTensors {
  const o = op.options;
  const input = opInput(graph, op, 'input');
  const filter = opInput(graph, op, 'weights');
  const output = opOutput(graph, op);
  const inQ = int8Activation(op, input, 'input');
  const outQ = int8Activation(op, output, 'output');
  requireRank(op, input, 'input', 4);
  requireRank(op, filter, 'filter', 4);
  requireRank(op, output, 'output', 4);
  requirePositive(op, 'option', { strideH: o.strideH, strideW: o.strideW, dilationH: o.dilationH, dilationW: o.dilationW });
  return { input, filter, output, inQ, outQ };
}

/** The window of a filter of the given size over the input, with the output's shape checked against it. */
export function convWindow(op: ConvOp, t: ConvTensors, filterH: number, filterW: number, outC: number): Window2d {
  const [batches, inH, inW] = t.input.shape;
  const win = window2d(op.options, inH, inW, filterH, filterW);
  requireShape(op, t.output, 'output', [batches, win.outH, win.outW, outC]);
  return win;
}

/** The fields mt_conv_params and mt_depthwise_conv_params share. */
export type ConvSharedFields = Omit<ParamsValues<'mt_conv_params'>, 'rounding'>;

export interface ConvCallParts {
  fn: string;
  tensors: ConvTensors;
  filterDims: number[];
  bias: Tensor | null;
  window: Window2d;
  requant: ChannelRequant;
  /** The operator's params struct from the shared fields (conv adds rounding; depthwise, depth_multiplier). */
  params: (shared: ConvSharedFields) => CStruct;
  macs: number;
}

/** The call `fn(&params, in_dims, in, filter_dims, filter, bias|NULL, mult, shift, out_dims, out)`. */
export function convCall(op: ConvOp, p: ConvCallParts): KernelCall {
  const o = op.options;
  const { input, filter, output, inQ, outQ } = p.tensors;
  const act = activationRange(o.activation, output);
  return {
    op: op.id,
    fn: p.fn,
    args: [
      { kind: 'struct', name: 'params' },
      { kind: 'dims', values: [...input.shape] },
      { kind: 'tensor', tensor: input.id },
      { kind: 'dims', values: p.filterDims },
      { kind: 'tensor', tensor: filter.id },
      p.bias ? { kind: 'tensor', tensor: p.bias.id } : { kind: 'null' },
      { kind: 'const', name: p.requant.mult.name },
      { kind: 'const', name: p.requant.shift.name },
      { kind: 'dims', values: [...output.shape] },
      { kind: 'tensor', tensor: output.id },
    ],
    consts: [p.requant.mult, p.requant.shift],
    structs: [p.params({
      stride_h: o.strideH,
      stride_w: o.strideW,
      dilation_h: o.dilationH,
      dilation_w: o.dilationW,
      pad_h: p.window.padH,
      pad_w: p.window.padW,
      input_offset: negatedZeroPoint(inQ.zeroPoint),
      output_offset: outQ.zeroPoint,
      act_min: act.min,
      act_max: act.max,
    })],
    scratchBytes: 0,
    macs: p.macs,
  };
}
