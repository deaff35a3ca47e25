/**
 * AVERAGE_POOL_2D -> mt_avg_pool_s8 and MAX_POOL_2D -> mt_max_pool_s8 (firmware/kernels/pooling.c),
 * prepared as TFLite Micro's pooling Prepare.
 */
import type { Graph, OpOf } from '../../ir/graph.ts';
import { activationRange } from '../common.ts';
import type { KernelCall } from '../kernel_call.ts';
import { paramsStruct } from '../params_structs.ts';
import { inOperator, int8Activation, opError, opInput, opOutput, requirePositive, requireRank, requireShape } from './checks.ts';
import { window2d } from './window.ts';

type PoolOp = OpOf<'AVERAGE_POOL_2D'> | OpOf<'MAX_POOL_2D'>;

export function lowerAveragePool2d(graph: Graph, op: OpOf<'AVERAGE_POOL_2D'>): KernelCall {
  return lowerPool(graph, op, 'mt_avg_pool_s8');
}

export function lowerMaxPool2d(graph: Graph, op: OpOf<'MAX_POOL_2D'>): KernelCall {
  return lowerPool(graph, op, 'mt_max_pool_s8');
}

function lowerPool(graph: Graph, op: PoolOp, fn: string): KernelCall {
  return inOperator(op, () => {
    const o = op.options;
    const input = opInput(graph, op, 'input');
    const output = opOutput(graph, op);
    const inQ = int8Activation(op, input, 'input');
    const outQ = int8Activation(op, output, 'output');
    requireRank(op, input, 'input', 4);
    requirePositive(op, 'option', { strideH: o.strideH, strideW: o.strideW, filterH: o.filterH, filterW: o.filterW });
    // The kernels pool raw int8 values, which is only right when both sides share one quantization
    // (TFLite checks the same, with this tolerance on the scales).
    if (Math.abs(inQ.scale - outQ.scale) > 1e-6 || inQ.zeroPoint !== outQ.zeroPoint) {
      throw opError(op,
        `input '${input.name}' (scale ${inQ.scale}, zero point ${inQ.zeroPoint}) and output '${output.name}' ` +
        `(scale ${outQ.scale}, zero point ${outQ.zeroPoint}) are quantized differently`,
        'pooling needs the same scale and zero point on input and output; re-quantize the model');
    }
    const [batches, inH, inW, channels] = input.shape;
    const win = window2d(o, inH, inW, o.filterH, o.filterW);
    requireShape(op, output, 'output', [batches, win.outH, win.outW, channels]);
    const act = activationRange(o.activation, output);
    return {
      op: op.id,
      fn,
      args: [
        { kind: 'struct', name: 'params' },
        { kind: 'dims', values: [...input.shape] },
        { kind: 'tensor', tensor: input.id },
        { kind: 'dims', values: [...output.shape] },
        { kind: 'tensor', tensor: output.id },
      ],
      consts: [],
      structs: [paramsStruct('mt_pooling_params', {
        stride_h: o.strideH,
        stride_w: o.strideW,
        filter_h: o.filterH,
        filter_w: o.filterW,
        pad_h: win.padH,
        pad_w: win.padW,
        act_min: act.min,
        act_max: act.max,
      })],
      scratchBytes: 0,
      // Pooling multiplies nothing; its cost shows in the measured cycles, not here.
      macs: 0,
    };
  });
}
