/** lowerQuantize / lowerDequantize: which kernel, the exact float32 scale in Flash, the requantize multiplier, and clear errors. */
import { describe, expect, it } from 'vitest';
import type { DType } from '../../src/ir/graph.ts';
import { lowerDequantize, lowerQuantize } from '../../src/lower/ops/quantize.ts';
import type { CStruct } from '../../src/lower/params_structs.ts';
import { field, GraphBuilder } from './graph_builder.ts';

function build(kind: 'QUANTIZE' | 'DEQUANTIZE', from: DType, to: DType, inQ: [number, number] = [0.1, 3], outQ: [number, number] = [0.05, -4], shapes: [number[], number[]] = [[2, 8], [2, 8]]) {
  const b = new GraphBuilder();
  const x = b.activation('x', shapes[0], ...inQ, from);
  const y = b.activation('y', shapes[1], ...outQ, to);
  if (from === 'float32') b.tensors[x].quant = undefined;
  if (to === 'float32') b.tensors[y].quant = undefined;
  const graph = b.graph();
  return kind === 'QUANTIZE'
    ? () => lowerQuantize(graph, b.op('QUANTIZE', [x], [y], {}))
    : () => lowerDequantize(graph, b.op('DEQUANTIZE', [x], [y], {}));
}

const fields = (call: { structs: CStruct[] }): Record<string, unknown> => call.structs[0].fields;

describe('lowerQuantize / lowerDequantize', () => {
  it('quantizes float32 with the output scale and zero point', () => {
    const call = build('QUANTIZE', 'float32', 'int8')();
    expect(call.fn).toBe('mt_quantize_f32_s8');
    expect(call.args).toEqual([{ kind: 'struct', name: 'params' }, { kind: 'tensor', tensor: 0 }, { kind: 'tensor', tensor: 1 }]);
    expect(call.structs[0].ctype).toBe('mt_quantize_params');
    expect(fields(call)).toEqual({ scale: Math.fround(0.05), zero_point: -4, count: 16 }); // the float32 TFLite stores
  });

  it('requantizes int8 with input_scale / output_scale as a Q31 multiplier, clamped to int8', () => {
    const call = build('QUANTIZE', 'int8', 'int8', [0.1, 3], [0.4, -4])();
    expect(call.fn).toBe('mt_requantize_tensor_s8');
    expect(call.structs[0].ctype).toBe('mt_requantize_params');
    const f = fields(call);
    // float32(0.1) / float32(0.4) = 0.25 exactly (0.4 = 4 * 0.1 in float32 too): 0.5 * 2^-1.
    expect(f).toEqual({ input_zero_point: 3, output_zero_point: -4, multiplier: 2 ** 30, shift: -1, act_min: -128, act_max: 127, count: 16 });
  });

  it('dequantizes int8 with the input scale and zero point', () => {
    const call = build('DEQUANTIZE', 'int8', 'float32', [0.0078125, -128])();
    expect(call.fn).toBe('mt_dequantize_s8_f32');
    expect(fields(call)).toEqual({ scale: 2 ** -7, zero_point: -128, count: 16 });
  });

  it('rejects conversions the int8 engine does not run, naming the operator and tensor', () => {
    expect(build('QUANTIZE', 'uint8', 'int8')).toThrow(/operator 0 \(QUANTIZE\): input 'x' is uint8; QUANTIZE to int8 is supported from float32 or int8/);
    expect(build('QUANTIZE', 'float32', 'uint8')).toThrow(/output 'y' is uint8, expected int8/);
    expect(build('DEQUANTIZE', 'int8', 'int32')).toThrow(/operator 0 \(DEQUANTIZE\): output 'y' is int32; DEQUANTIZE is supported to float32/);
    expect(build('DEQUANTIZE', 'int16', 'float32')).toThrow(/input 'x' is int16, expected int8/);
    expect(build('QUANTIZE', 'float32', 'int8', [1, 0], [0.1, 0], [[4], [5]])).toThrow(/different numbers of elements/);
  });
});
