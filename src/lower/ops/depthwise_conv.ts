/** DEPTHWISE_CONV_2D -> mt_depthwise_conv_s8 (firmware/kernels/depthwise_conv.c; int4 weights: mt_depthwise_conv_s4w), prepared as TFLite Micro's Prepare. */
import type { Graph, OpOf } from '../../ir/graph.ts';
import type { KernelCall } from '../kernel_call.ts';
import { paramsStruct } from '../params_structs.ts';
import { inOperator, opError } from './checks.ts';
import { convCall, convTensors, convWindow } from './conv_common.ts';
import { checkAccumulatorFits, quantizedWeights, optionalBias, perChannelRequant, requireSymmetric } from './mac_common.ts';

export function lowerDepthwiseConv2d(graph: Graph, op: OpOf<'DEPTHWISE_CONV_2D'>): KernelCall {
  return inOperator(op, () => {
    const t = convTensors(graph, op);
    const [batches, , , inC] = t.input.shape;
    // 1HWC with C = input channels * depth multiplier. The multiplier follows from the shapes; the
    // option must agree when set (some converters leave it 0).
    const [one, filterH, filterW, outC] = t.filter.shape;
    const multiplier = outC / inC;
    const optionMultiplier = op.options.depthMultiplier;
    if (one !== 1 || !Number.isInteger(multiplier) || multiplier < 1 || (optionMultiplier !== 0 && optionMultiplier !== multiplier)) {
      throw opError(op,
        `filter '${t.filter.name}' [${t.filter.shape.join(', ')}] does not fit input '${t.input.name}' with ${inC} channels ` +
        `and depth multiplier ${optionMultiplier}`,
        'a depthwise filter has shape [1, h, w, input channels * depth multiplier]; re-export the model');
    }
    const window = convWindow(op, t, filterH, filterW, outC);

    const wq = quantizedWeights(op, t.filter, 'filter', 3, outC);
    requireSymmetric(op, t.filter, 'filter', wq);
    const bias = optionalBias(graph, op, outC);
    checkAccumulatorFits(op, t.filter, bias, outC, (i) => i % outC, 0, t.inQ.zeroPoint);

    return convCall(op, {
      fn: wq.int4 ? 'mt_depthwise_conv_s4w' : 'mt_depthwise_conv_s8',
      params: (shared) => paramsStruct('mt_depthwise_conv_params', { ...shared, depth_multiplier: multiplier }),
      tensors: t,
      filterDims: [1, filterH, filterW, outC],
      bias,
      window,
      requant: perChannelRequant(t.inQ, wq, t.outQ, outC),
      macs: batches * window.outH * window.outW * outC * filterH * filterW,
    });
  });
}
