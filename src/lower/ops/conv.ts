/** CONV_2D -> mt_conv_s8 (firmware/kernels/conv.c; int4 weights: mt_conv_s4w, conv_s4w.c), prepared as TFLite Micro's conv Prepare, rounded as ../numerics.ts says. */
import type { Graph, OpOf } from '../../ir/graph.ts';
import type { KernelCall } from '../kernel_call.ts';
import { paramsStruct } from '../params_structs.ts';
import { inOperator, opError } from './checks.ts';
import { convCall, convTensors, convWindow } from './conv_common.ts';
import { checkAccumulatorFits, quantizedWeights, optionalBias, perChannelRequant, requireSymmetric } from './mac_common.ts';
import { DEFAULT_NUMERICS, gemmRounding, type LowerContext } from '../numerics.ts';

export function lowerConv2d(graph: Graph, op: OpOf<'CONV_2D'>, ctx: LowerContext = { numerics: DEFAULT_NUMERICS }): KernelCall {
  return inOperator(op, () => {
    const t = convTensors(graph, op);
    const [batches, , , inC] = t.input.shape;
    // OHWI; a filter shallower than the input convolves channel groups separately.
    const [outC, filterH, filterW, filterC] = t.filter.shape;
    if (filterC < 1 || inC % filterC !== 0 || outC % (inC / filterC) !== 0) {
      throw opError(op,
        `filter '${t.filter.name}' [${t.filter.shape.join(', ')}] does not fit input '${t.input.name}' with ${inC} channels`,
        'the filter depth must divide the input depth, and the groups the output depth; re-export the model');
    }
    const window = convWindow(op, t, filterH, filterW, outC);

    const wq = quantizedWeights(op, t.filter, 'filter', 0, outC);
    requireSymmetric(op, t.filter, 'filter', wq);
    const bias = optionalBias(graph, op, outC);
    const taps = filterH * filterW * filterC;
    checkAccumulatorFits(op, t.filter, bias, outC, (i) => Math.floor(i / taps), 0, t.inQ.zeroPoint);

    return convCall(op, {
      fn: wq.int4 ? 'mt_conv_s4w' : 'mt_conv_s8',
      params: (shared) => paramsStruct('mt_conv_params', { ...shared, rounding: gemmRounding(ctx.numerics) }),
      tensors: t,
      filterDims: [outC, filterH, filterW, filterC],
      bias,
      window,
      requant: perChannelRequant(t.inQ, wq, t.outQ, outC),
      macs: batches * window.outH * window.outW * outC * taps,
    });
  });
}
