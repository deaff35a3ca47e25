/**
 * FULLY_CONNECTED -> mt_fully_connected_s8 (firmware/kernels/fully_connected.c; int4 weights: mt_fully_connected_s4w), prepared as TFLite Micro's
 * Prepare, rounded as ../numerics.ts says.
 */
import { type Graph, type OpOf, elementCount } from '../../ir/graph.ts';
import { INT8_MAX, INT8_MIN, activationRange } from '../common.ts';
import type { KernelCall } from '../kernel_call.ts';
import { paramsStruct } from '../params_structs.ts';
import { toFloat32 } from '../quant_params.ts';
import { inOperator, int8Activation, negatedZeroPoint, opError, opInput, opOutput, requireRank } from './checks.ts';
import {
  type ChannelRequant, checkAccumulatorFits, quantizedWeights, optionalBias, perChannelRequant, perTensorRequant, requireSymmetric,
} from './mac_common.ts';
import { DEFAULT_NUMERICS, gemmRounding, type LowerContext } from '../numerics.ts';

export function lowerFullyConnected(graph: Graph, op: OpOf<'FULLY_CONNECTED'>, ctx: LowerContext = { numerics: DEFAULT_NUMERICS }): KernelCall {
  return inOperator(op, () => {
    const input = opInput(graph, op, 'input');
    const filter = opInput(graph, op, 'weights');
    const output = opOutput(graph, op);
    const inQ = int8Activation(op, input, 'input');
    const outQ = int8Activation(op, output, 'output');
    requireRank(op, filter, 'weights', 2);

    // The input is read as rows of accumDepth values, whatever its rank.
    const [outDepth, accumDepth] = filter.shape;
    const batches = elementCount(input.shape) / accumDepth;
    if (!Number.isInteger(batches) || batches < 1) {
      throw opError(op, `input '${input.name}' [${input.shape.join(', ')}] does not split into rows of ${accumDepth} values ` +
        `for weights '${filter.name}' [${filter.shape.join(', ')}]`, 'the model file is malformed; re-export it');
    }
    if (output.shape[output.shape.length - 1] !== outDepth || elementCount(output.shape) !== batches * outDepth) {
      throw opError(op, `output '${output.name}' has shape [${output.shape.join(', ')}], expected ${batches} rows of ${outDepth}`,
        'the model file is malformed; re-export it');
    }

    const wq = quantizedWeights(op, filter, 'weights', 0, outDepth);
    const bias = optionalBias(graph, op, outDepth);
    let filterOffset = 0;
    let requant: ChannelRequant;
    if (wq.perChannel) {
      requireSymmetric(op, filter, 'weights', wq);
      requant = perChannelRequant(inQ, wq, outQ, outDepth);
    } else {
      // Per-tensor weights keep TFLite's legacy path: a zero point is allowed, and the bias scale must
      // match input scale * weight scale (TFLite's GetQuantizedConvolutionMultipler rejects the model otherwise).
      const zeroPoint = wq.zeroPoints[0];
      if (!Number.isInteger(zeroPoint) || zeroPoint < INT8_MIN || zeroPoint > INT8_MAX) {
        throw opError(op, `weights '${filter.name}' have zero point ${zeroPoint}, outside int8`, 'the model file is malformed; re-export it');
      }
      filterOffset = negatedZeroPoint(zeroPoint);
      if (bias) {
        const biasScale = toFloat32(bias.quant?.scale[0] ?? 0);
        const productScale = inQ.scale * wq.scales[0];
        if (Math.abs(productScale - biasScale) / outQ.scale > 0.02) {
          throw opError(op,
            `bias '${bias.name}' has scale ${biasScale}, but input scale * weight scale is ${productScale}`,
            'the bias must be quantized with scale input_scale * weight_scale; re-quantize the model');
        }
      }
      requant = perTensorRequant(inQ, wq.scales[0], outQ, outDepth);
    }
    checkAccumulatorFits(op, filter, bias, outDepth, (i) => Math.floor(i / accumDepth), filterOffset, inQ.zeroPoint);

    const act = activationRange(op.options.activation, output);
    return {
      op: op.id,
      fn: wq.int4 ? 'mt_fully_connected_s4w' : 'mt_fully_connected_s8',
      args: [
        { kind: 'struct', name: 'params' },
        { kind: 'tensor', tensor: input.id },
        { kind: 'tensor', tensor: filter.id },
        bias ? { kind: 'tensor', tensor: bias.id } : { kind: 'null' },
        { kind: 'const', name: requant.mult.name },
        { kind: 'const', name: requant.shift.name },
        { kind: 'tensor', tensor: output.id },
      ],
      consts: [requant.mult, requant.shift],
      structs: [paramsStruct('mt_fully_connected_params', {
        batches: batches,
        accum_depth: accumDepth,
        output_depth: outDepth,
        input_offset: negatedZeroPoint(inQ.zeroPoint),
        filter_offset: filterOffset,
        output_offset: outQ.zeroPoint,
        act_min: act.min,
        act_max: act.max,
        rounding: gemmRounding(ctx.numerics),
      })],
      scratchBytes: 0,
      macs: batches * outDepth * accumDepth,
    };
  });
}
