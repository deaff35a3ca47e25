/** lowerConcatenation: the entry point per input count, slice sizes, negative axes, and clear errors. */
import { describe, expect, it } from 'vitest';
import type { Activation } from '../../src/ir/graph.ts';
import { lowerConcatenation } from '../../src/lower/ops/concatenation.ts';
import { field, GraphBuilder } from './graph_builder.ts';

interface ConcatOpts { shapes?: number[][]; axis?: number; out?: number[]; quants?: [number, number][]; activation?: Activation }

function concat(opts: ConcatOpts = {}) {
  const b = new GraphBuilder();
  const shapes = opts.shapes ?? [[1, 4, 4, 3], [1, 4, 4, 5]];
  const axis = opts.axis ?? 3;
  const ins = shapes.map((s, i) => b.activation(`branch${i}`, s, ...(opts.quants?.[i] ?? [0.05, 2])));
  const a = axis < 0 ? axis + shapes[0].length : axis;
  const out = opts.out ?? shapes[0].map((d, j) => (j === a ? shapes.reduce((sum, s) => sum + s[j], 0) : d));
  const y = b.activation('joined', out, 0.05, 2);
  const op = b.op('CONCATENATION', ins, [y], { axis, activation: opts.activation ?? 'NONE' });
  const graph = b.graph();
  return () => lowerConcatenation(graph, op);
}

describe('lowerConcatenation', () => {
  it('calls the entry point for its input count with one tensor argument per input', () => {
    const call = concat()();
    expect(call.fn).toBe('mt_concatenation2_s8');
    expect(call.structs[0].ctype).toBe('mt_concatenation_params');
    expect(call.args).toEqual([
      { kind: 'struct', name: 'params' }, { kind: 'tensor', tensor: 0 }, { kind: 'tensor', tensor: 1 }, { kind: 'tensor', tensor: 2 },
    ]);
    // channels: 16 pixels, each taking 3 then 5 channels
    expect([field(call, 'outer_count'), field(call, 'slice_sizes')]).toEqual([16, [3, 5]]);
  });

  it('normalizes a negative axis against the output rank and multiplies in the inner dimensions', () => {
    const call = concat({ shapes: [[2, 3, 4], [2, 1, 4], [2, 2, 4]], axis: -2 })();
    expect(call.fn).toBe('mt_concatenation3_s8');
    expect([field(call, 'outer_count'), field(call, 'slice_sizes')]).toEqual([2, [12, 4, 8]]);
    const first = concat({ shapes: [[2, 3], [5, 3]], axis: 0 })();
    expect([field(first, 'outer_count'), field(first, 'slice_sizes')]).toEqual([1, [6, 15]]);
  });

  it('handles 1 and 10 inputs', () => {
    expect(concat({ shapes: [[4, 2]], axis: 1 })().fn).toBe('mt_concatenation1_s8');
    expect(concat({ shapes: Array.from({ length: 10 }, () => [1, 2]), axis: 0 })().fn).toBe('mt_concatenation10_s8');
  });

  it('rejects what it cannot concatenate exactly, naming the operator and tensor', () => {
    expect(concat({ quants: [[0.05, 2], [0.1, 2]] })).toThrow(/operator 0 \(CONCATENATION\): input 1 'branch1' .* and output 'joined' .* are quantized differently/);
    expect(concat({ quants: [[0.05, 3], [0.05, 2]] })).toThrow(/input 0 'branch0'/);
    expect(concat({ shapes: Array.from({ length: 11 }, () => [1, 2]), axis: 0 })).toThrow(/has 11 inputs, expected 1 to 10/);
    expect(concat({ activation: 'RELU' })).toThrow(/fused activation RELU/);
    expect(concat({ shapes: [[1, 4, 4, 3], [1, 4, 5, 3]], out: [1, 4, 4, 6] })).toThrow(/input 1 'branch1' has shape \[1, 4, 5, 3\]/);
    expect(concat({ axis: 4 })).toThrow(/axis 4 is outside/);
    expect(concat({ out: [1, 4, 4, 9] })).toThrow(/output 'joined' has shape \[1, 4, 4, 9\], expected \[1, 4, 4, 8\]/);
  });
});
