/**
 * PAD (int8, constant border, up to 4-D) -> mt_pad_s8, as TFLite Micro's PadPrepare: paddings come
 * from the constant second input, one (before, after) pair per dimension, and the border value is
 * the output zero point (real 0). Lower ranks are padded to NHWC with leading dimensions of 1.
 */
import type { Graph, OpOf } from '../../ir/graph.ts';
import type { KernelCall } from '../kernel_call.ts';
import { type Dims4, paramsStruct } from '../params_structs.ts';
import { inOperator, int8Activation, opError, opOutput, requireShape } from './checks.ts';
import { constInts, opSlots, requireSameQuant, shape4d } from './tensor_checks.ts';

/** An mt_dims4 field of a parameter struct from NHWC amounts. */
const dims4 = ([n, h, w, c]: number[]): Dims4 => ({ n, h, w, c });

export function lowerPad(graph: Graph, op: OpOf<'PAD'>): KernelCall {
  return inOperator(op, () => {
    const { input, paddings: paddingsTensor } = opSlots(graph, op);
    const output = opOutput(graph, op);
    // The kernel copies int8 values: the border is the output's zero point, the rest keeps its meaning
    // only if input and output share their quantization (the converter always makes them equal).
    requireSameQuant(op, input, 'input', output, 'output');
    const { zeroPoint } = int8Activation(op, output, 'output');
    const rank = input.shape.length;
    const inDims = shape4d(op, input, 'input');

    const paddings = constInts(op, paddingsTensor, 'paddings');
    if (paddings.length !== 2 * rank) {
      throw opError(op, `paddings '${paddingsTensor.name}' hold ${paddings.length} values; a rank-${rank} input needs ${2 * rank} (a before/after pair per dimension)`,
        'the model file is malformed; re-export it with the TensorFlow Lite converter');
    }
    if (paddings.some((p) => p < 0)) {
      throw opError(op, `paddings '${paddingsTensor.name}' [${paddings.join(', ')}] contain a negative amount`, 'cropping is not padding: use a slice instead');
    }
    const before = input.shape.map((_, i) => paddings[2 * i]);
    const after = input.shape.map((_, i) => paddings[2 * i + 1]);
    requireShape(op, output, 'output', input.shape.map((d, i) => d + before[i] + after[i]));
    const lead = Array(4 - rank).fill(0);

    return {
      op: op.id,
      fn: 'mt_pad_s8',
      args: [
        { kind: 'struct', name: 'params' },
        { kind: 'dims', values: inDims },
        { kind: 'tensor', tensor: input.id },
        { kind: 'tensor', tensor: output.id },
      ],
      consts: [],
      structs: [paramsStruct('mt_pad_params', {
        before: dims4([...lead, ...before]),
        after: dims4([...lead, ...after]),
        pad_value: zeroPoint,
      })],
      scratchBytes: 0,
      macs: 0,
    };
  });
}
