/** lowerAdd: TFLite's three rescaling multipliers, offsets, call layout, and clear errors. */
import { describe, expect, it } from 'vitest';
import type { Activation } from '../../src/ir/graph.ts';
import { McutrainError } from '../../src/errors.ts';
import { lowerAdd } from '../../src/lower/ops/add.ts';
import { quantizeMultiplierSmallerThanOneExp } from '../../src/lower/quant_params.ts';
import { GraphBuilder } from './graph_builder.ts';

function addGraph(opts: { a?: number[]; b?: number[]; out?: number[]; scales?: [number, number, number]; activation?: Activation; dtype?: 'int8' | 'float32' }) {
  const g = new GraphBuilder();
  const [s1, s2, so] = opts.scales ?? [0.5, 0.25, 1];
  const a = g.activation('left', opts.a ?? [1, 4, 4, 2], s1, 1, opts.dtype);
  const b = g.activation('right', opts.b ?? [1, 4, 4, 2], s2, 0);
  const y = g.activation('sum', opts.out ?? [1, 4, 4, 2], so, -2);
  const op = g.op('ADD', [a, b], [y], { activation: opts.activation ?? 'NONE' });
  const graph = g.graph();
  return () => lowerAdd(graph, op);
}

const fields = (call: ReturnType<ReturnType<typeof addGraph>>): Record<string, unknown> => call.structs[0].fields;

function errorOf(f: () => unknown): McutrainError {
  try {
    f();
  } catch (e) {
    if (e instanceof McutrainError) return e;
    throw e;
  }
  throw new Error('expected a McutrainError');
}

describe('lowerAdd', () => {
  it('rescales both inputs to half the larger input scale with 2^20 headroom, then to the output', () => {
    // 2 * max(0.5, 0.25) = 1: input multipliers 0.5 = 0.5 * 2^0 and 0.25 = 0.5 * 2^-1;
    // output 1 / (2^20 * 1) = 0.5 * 2^-19
    const f = fields(addGraph({})());
    expect(f).toEqual({
      size: 32, input1_offset: -1, input2_offset: 0, output_offset: -2, left_shift: 20,
      input1_mult: 2 ** 30, input1_shift: 0, input2_mult: 2 ** 30, input2_shift: -1,
      output_mult: 2 ** 30, output_shift: -19, act_min: -128, act_max: 127,
    });
  });

  it('is symmetric in which input has the larger scale', () => {
    const f = fields(addGraph({ scales: [0.25, 0.5, 1] })());
    expect([f.input1_mult, f.input1_shift, f.input2_mult, f.input2_shift]).toEqual([2 ** 30, -1, 2 ** 30, 0]);
  });

  it('quantizes a fused RELU with the output scale', () => {
    const f = fields(addGraph({ activation: 'RELU' })());
    expect([f.act_min, f.act_max]).toEqual([-2, 127]);
  });

  it('lays out the call as mt_add_s8 takes it', () => {
    const call = addGraph({})();
    expect(call.fn).toBe('mt_add_s8');
    expect(call.structs[0].ctype).toBe('mt_add_params');
    expect(call.args).toEqual([
      { kind: 'struct', name: 'params' }, { kind: 'tensor', tensor: 0 }, { kind: 'tensor', tensor: 1 }, { kind: 'tensor', tensor: 2 },
    ]);
    expect(call.consts).toEqual([]);
  });

  it('rejects broadcasting with a clear error and remedy', () => {
    const e = errorOf(addGraph({ b: [1, 1, 1, 2] }));
    expect(e.message).toMatch(/^operator 0 \(ADD\): inputs 'left' \[1, 4, 4, 2\] and 'right' \[1, 1, 1, 2\] differ in shape; broadcasting ADD is not supported/);
    expect(e.hint).toMatch(/same shape/);
  });

  it('rejects an output scale so small the output multiplier would not be below 1', () => {
    // 2 * 0.5 / (2^20 * 2^-21) = 2
    const e = errorOf(addGraph({ scales: [0.5, 0.25, 2 ** -21] }));
    expect(e.message).toMatch(/^operator 0 \(ADD\): the output rescaling factor 2 is not below 1/);
  });

  it('rejects float inputs and a wrong output shape, naming the tensor', () => {
    expect(errorOf(addGraph({ dtype: 'float32' })).message).toMatch(/input 1 'left' is float32, expected int8/);
    expect(errorOf(addGraph({ out: [1, 4, 4, 3] })).message).toMatch(/output 'sum' has shape \[1, 4, 4, 3\], expected \[1, 4, 4, 2\]/);
  });
});

describe('quantizeMultiplierSmallerThanOneExp', () => {
  it('returns non-positive shifts and refuses values outside (0, 1), as TFLite checks', () => {
    expect(quantizeMultiplierSmallerThanOneExp(0.75)).toEqual({ multiplier: 3 * 2 ** 29, shift: 0 });
    expect(quantizeMultiplierSmallerThanOneExp(0.1875)).toEqual({ multiplier: 3 * 2 ** 29, shift: -2 });
    expect(quantizeMultiplierSmallerThanOneExp(1)).toBeNull();
    expect(quantizeMultiplierSmallerThanOneExp(0)).toBeNull();
    expect(quantizeMultiplierSmallerThanOneExp(-0.5)).toBeNull();
    // rounds up to 1: the mantissa reaches 2^31 and the shift becomes 1
    expect(quantizeMultiplierSmallerThanOneExp(1 - 2 ** -40)).toBeNull();
  });
});
