/** ADD -> mt_add_s8 (firmware/kernels/add.c), prepared as TFLite Micro's CalculateOpDataAdd. */
import { type Graph, type OpOf, elementCount } from '../../ir/graph.ts';
import { activationRange } from '../common.ts';
import type { KernelCall } from '../kernel_call.ts';
import { paramsStruct } from '../params_structs.ts';
import { type QuantizedMultiplier, quantizeMultiplierSmallerThanOneExp } from '../quant_params.ts';
import { inOperator, int8Activation, negatedZeroPoint, opError, opInput, opOutput, requireShape } from './checks.ts';

/** Bits of headroom TFLite gives int8 inputs before rescaling them to a common scale. */
const INT8_LEFT_SHIFT = 20;

export function lowerAdd(graph: Graph, op: OpOf<'ADD'>): KernelCall {
  return inOperator(op, () => {
    const a = opInput(graph, op, 'input1');
    const b = opInput(graph, op, 'input2');
    const output = opOutput(graph, op);
    const aQ = int8Activation(op, a, 'input 1');
    const bQ = int8Activation(op, b, 'input 2');
    const outQ = int8Activation(op, output, 'output');
    if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
      throw opError(op,
        `inputs '${a.name}' [${a.shape.join(', ')}] and '${b.name}' [${b.shape.join(', ')}] differ in shape; broadcasting ADD is not supported`,
        'give both inputs the same shape in the model (broadcast the smaller one explicitly before exporting)');
    }
    requireShape(op, output, 'output', a.shape);

    // Both inputs move to half the larger input scale, with 2^20 of headroom, then the sum to the output.
    // The scales are float32; TFLite widens them to double before dividing.
    const twiceMaxInputScale = 2 * Math.max(aQ.scale, bQ.scale);
    const multiplier = (what: string, real: number): QuantizedMultiplier => {
      const q = quantizeMultiplierSmallerThanOneExp(real);
      if (!q) {
        throw opError(op, `the ${what} rescaling factor ${real} is not below 1 (output '${output.name}' scale ${outQ.scale})`,
          'the output scale is far too small for the inputs; re-quantize the model');
      }
      return q;
    };
    const m1 = multiplier('input 1', aQ.scale / twiceMaxInputScale);
    const m2 = multiplier('input 2', bQ.scale / twiceMaxInputScale);
    const mOut = multiplier('output', twiceMaxInputScale / (2 ** INT8_LEFT_SHIFT * outQ.scale));
    const act = activationRange(op.options.activation, output);
    return {
      op: op.id,
      fn: 'mt_add_s8',
      args: [
        { kind: 'struct', name: 'params' },
        { kind: 'tensor', tensor: a.id },
        { kind: 'tensor', tensor: b.id },
        { kind: 'tensor', tensor: output.id },
      ],
      consts: [],
      structs: [paramsStruct('mt_add_params', {
        size: elementCount(a.shape),
        input1_offset: negatedZeroPoint(aQ.zeroPoint),
        input2_offset: negatedZeroPoint(bQ.zeroPoint),
        output_offset: outQ.zeroPoint,
        left_shift: INT8_LEFT_SHIFT,
        input1_mult: m1.multiplier,
        input1_shift: m1.shift,
        input2_mult: m2.multiplier,
        input2_shift: m2.shift,
        output_mult: mOut.multiplier,
        output_shift: mOut.shift,
        act_min: act.min,
        act_max: act.max,
      })],
      scratchBytes: 0,
      macs: 0,
    };
  });
}
