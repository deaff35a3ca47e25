/** lowerRelu / lowerRelu6: requantize-and-clamp parameters (TFLite's quantized ReluX) and clear errors. */
import { describe, expect, it } from 'vitest';
import { lowerRelu, lowerRelu6 } from '../../src/lower/ops/activation.ts';
import type { CStruct } from '../../src/lower/params_structs.ts';
import { GraphBuilder } from './graph_builder.ts';

function relu(kind: 'RELU' | 'RELU6', inQ: [number, number], outQ: [number, number], dtype: 'int8' | 'float32' = 'int8') {
  const b = new GraphBuilder();
  const x = b.activation('pre', [1, 8, 8, 4], ...inQ, dtype);
  const y = b.activation('post', [1, 8, 8, 4], ...outQ);
  const graph = b.graph();
  return kind === 'RELU' ? () => lowerRelu(graph, b.op('RELU', [x], [y], {})) : () => lowerRelu6(graph, b.op('RELU6', [x], [y], {}));
}

const fields = (call: { structs: CStruct[] }): Record<string, unknown> => call.structs[0].fields;

describe('lowerRelu / lowerRelu6', () => {
  it('RELU keeps the quantization (identity multiplier) and clamps below at the zero point', () => {
    const call = relu('RELU', [0.1, -20], [0.1, -20])();
    expect(call.fn).toBe('mt_requantize_tensor_s8');
    expect(call.args).toEqual([{ kind: 'struct', name: 'params' }, { kind: 'tensor', tensor: 0 }, { kind: 'tensor', tensor: 1 }]);
    // QuantizeMultiplier(1) = 0.5 * 2^1
    expect(fields(call)).toEqual({ input_zero_point: -20, output_zero_point: -20, multiplier: 2 ** 30, shift: 1, act_min: -20, act_max: 127, count: 256 });
  });

  it('RELU6 clamps above at real 6 on the output scale (6 / 0.05 = 120 steps above zero point -128)', () => {
    const f = fields(relu('RELU6', [0.1, 0], [0.05, -128])());
    // input 0.1 / output 0.05 = 2 = 0.5 * 2^2
    expect([f.multiplier, f.shift, f.act_min, f.act_max]).toEqual([2 ** 30, 2, -128, -8]);
    // real 6 beyond the output range: the clamp stays at 127
    expect(fields(relu('RELU6', [0.1, 0], [0.01, 0])()).act_max).toBe(127);
  });

  it('rejects non-int8 tensors, naming the operator and tensor', () => {
    expect(relu('RELU', [0.1, 0], [0.1, 0], 'float32')).toThrow(/operator 0 \(RELU\): input 'pre' is float32, expected int8/);
    expect(relu('RELU6', [0.1, 0], [0.1, 200])).toThrow(/operator 0 \(RELU6\): output 'post' has zero point 200/);
  });
});
