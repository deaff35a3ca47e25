/** lowerAveragePool2d / lowerMaxPool2d: windows and padding, shared quantization, call layout, errors. */
import { describe, expect, it } from 'vitest';
import type { PoolOptions } from '../../src/ir/graph.ts';
import { McutrainError } from '../../src/errors.ts';
import { lowerAveragePool2d, lowerMaxPool2d } from '../../src/lower/ops/pooling.ts';
import { GraphBuilder, field } from './graph_builder.ts';

const OPTIONS: PoolOptions = { padding: 'SAME', strideH: 2, strideW: 2, filterH: 3, filterW: 3, activation: 'NONE' };

function poolGraph(max: boolean, opts: { input?: number[]; output?: number[]; outQ?: [number, number]; options?: Partial<PoolOptions> }) {
  const b = new GraphBuilder();
  const x = b.activation('features', opts.input ?? [1, 7, 7, 8], 0.02, -5);
  const y = b.activation('pooled', opts.output ?? [1, 4, 4, 8], ...(opts.outQ ?? [0.02, -5]));
  const options = { ...OPTIONS, ...opts.options };
  const op = max ? b.op('MAX_POOL_2D', [x], [y], options) : b.op('AVERAGE_POOL_2D', [x], [y], options);
  const graph = b.graph();
  return { lower: () => (max ? lowerMaxPool2d(graph, op as never) : lowerAveragePool2d(graph, op as never)) };
}

function errorOf(f: () => unknown): McutrainError {
  try {
    f();
  } catch (e) {
    if (e instanceof McutrainError) return e;
    throw e;
  }
  throw new Error('expected a McutrainError');
}

describe('pooling lowerings', () => {
  for (const max of [false, true]) {
    const kind = max ? 'MAX_POOL_2D' : 'AVERAGE_POOL_2D';
    describe(kind, () => {
      it('computes SAME and VALID padding and lays out the call', () => {
        // 7x7, 3x3, stride 2, SAME: 4 outputs, total padding 3*2 + 3 - 7 = 2 -> 1 before
        const call = poolGraph(max, {}).lower();
        expect(call.fn).toBe(max ? 'mt_max_pool_s8' : 'mt_avg_pool_s8');
        expect(call.structs[0].ctype).toBe('mt_pooling_params');
        expect(call.structs[0].fields).toEqual({ stride_h: 2, stride_w: 2, filter_h: 3, filter_w: 3, pad_h: 1, pad_w: 1, act_min: -128, act_max: 127 });
        expect(call.args).toEqual([
          { kind: 'struct', name: 'params' },
          { kind: 'dims', values: [1, 7, 7, 8] },
          { kind: 'tensor', tensor: 0 },
          { kind: 'dims', values: [1, 4, 4, 8] },
          { kind: 'tensor', tensor: 1 },
        ]);
        const valid = poolGraph(max, { output: [1, 3, 3, 8], options: { padding: 'VALID' } }).lower();
        expect([field(valid, 'pad_h'), field(valid, 'pad_w')]).toEqual([0, 0]);
      });

      it('applies a fused RELU6 with the output scale', () => {
        const call = poolGraph(max, { options: { activation: 'RELU6' } }).lower();
        expect([field(call, 'act_min'), field(call, 'act_max')]).toEqual([-5, 127]); // 6 / 0.02 = 300 is beyond int8
      });

      const cases: [string, Parameters<typeof poolGraph>[1], RegExp][] = [
        ['a different output scale', { outQ: [0.04, -5] }, /input 'features' \(scale .*\) and output 'pooled' \(scale .*\) are quantized differently/],
        ['a different output zero point', { outQ: [0.02, 0] }, /quantized differently/],
        ['a wrong output shape', { output: [1, 3, 3, 8] }, /output 'pooled' has shape \[1, 3, 3, 8\], expected \[1, 4, 4, 8\]/],
        ['an empty filter', { options: { filterW: 0 } }, /filterW is 0/],
        ['a rank-3 input', { input: [7, 7, 8] }, /input 'features' has shape \[7, 7, 8\], expected 4 dimensions/],
      ];
      for (const [what, opts, message] of cases) {
        it(`rejects ${what} naming the operator`, () => {
          const e = errorOf(poolGraph(max, opts).lower);
          expect(e.message).toMatch(new RegExp(`^operator 0 \\(${kind}\\): `));
          expect(e.message).toMatch(message);
          expect(e.hint).toBeTruthy();
        });
      }
    });
  }
});
