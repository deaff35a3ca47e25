/** lowerDepthwiseConv2d: depth multiplier, per-channel multipliers along axis 3, call layout, errors. */
import { describe, expect, it } from 'vitest';
import type { DepthwiseConvOptions } from '../../src/ir/graph.ts';
import { McutrainError } from '../../src/errors.ts';
import { lowerDepthwiseConv2d } from '../../src/lower/ops/depthwise_conv.ts';
import { GraphBuilder, constArray, field } from './graph_builder.ts';

const OPTIONS: DepthwiseConvOptions = {
  padding: 'VALID', strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, depthMultiplier: 2, activation: 'NONE',
};

function dwGraph(opts: {
  filter?: number[]; output?: number[]; scales?: number[]; axis?: number; options?: Partial<DepthwiseConvOptions>;
}) {
  const b = new GraphBuilder();
  const fShape = opts.filter ?? [1, 3, 3, 4];
  const x = b.activation('x', [1, 5, 5, 2], 0.5, 4);
  const n = fShape.reduce((a, c) => a * c, 1);
  const w = b.weights('dw_kernel', fShape, Array.from({ length: n }, (_, i) => (i % 5) - 2),
    opts.scales ?? [0.25, 0.125, 0.0625, 0.03125], opts.axis ?? 3);
  const bias = b.bias('bias', Array(fShape[3]).fill(1));
  const y = b.activation('y', opts.output ?? [1, 3, 3, fShape[3]], 0.125, -2);
  const op = b.op('DEPTHWISE_CONV_2D', [x, w, bias], [y], { ...OPTIONS, ...opts.options });
  return { graph: b.graph(), op };
}

function errorOf(g: ReturnType<typeof dwGraph>): McutrainError {
  try {
    lowerDepthwiseConv2d(g.graph, g.op);
  } catch (e) {
    if (e instanceof McutrainError) return e;
    throw e;
  }
  throw new Error('expected a McutrainError');
}

describe('lowerDepthwiseConv2d', () => {
  it('computes one multiplier per output channel from the scales along axis 3', () => {
    const { graph, op } = dwGraph({});
    const call = lowerDepthwiseConv2d(graph, op);
    // 0.5 * s / 0.125 = 4s: 1, 0.5, 0.25, 0.125 = 0.5 * 2^(1, 0, -1, -2)
    expect(constArray(call, 'mult')).toEqual([2 ** 30, 2 ** 30, 2 ** 30, 2 ** 30]);
    expect(constArray(call, 'shift')).toEqual([1, 0, -1, -2]);
    expect([field(call, 'input_offset'), field(call, 'output_offset')]).toEqual([-4, -2]);
  });

  it('takes the depth multiplier from the shapes, also when the option is 0', () => {
    const { graph, op } = dwGraph({ options: { depthMultiplier: 0 } });
    expect(field(lowerDepthwiseConv2d(graph, op), 'depth_multiplier')).toBe(2);
  });

  it('lays out the call as mt_depthwise_conv_s8 takes it and counts MACs', () => {
    const { graph, op } = dwGraph({ options: { padding: 'SAME', strideH: 2, strideW: 2 } , output: [1, 3, 3, 4] });
    const call = lowerDepthwiseConv2d(graph, op);
    expect(call.fn).toBe('mt_depthwise_conv_s8');
    expect(call.structs[0].ctype).toBe('mt_depthwise_conv_params');
    expect(Object.keys(call.structs[0].fields)).not.toContain('rounding'); // always rounds twice, as TFLite does
    expect(call.args.map((a) => a.kind)).toEqual(['struct', 'dims', 'tensor', 'dims', 'tensor', 'tensor', 'const', 'const', 'dims', 'tensor']);
    expect(call.args[3]).toEqual({ kind: 'dims', values: [1, 3, 3, 4] });
    expect([field(call, 'pad_h'), field(call, 'pad_w'), field(call, 'stride_h')]).toEqual([1, 1, 2]);
    expect(call.macs).toBe(3 * 3 * 4 * 3 * 3);
  });

  describe('rejects with an error naming the operator and tensor', () => {
    const cases: [string, Parameters<typeof dwGraph>[0], RegExp][] = [
      ['a depth multiplier option that disagrees with the shapes', { options: { depthMultiplier: 3 } }, /'dw_kernel' \[1, 3, 3, 4\] does not fit input 'x' with 2 channels and depth multiplier 3/],
      ['a filter whose leading dimension is not 1', { filter: [2, 3, 3, 2], scales: [0.1] }, /'dw_kernel' \[2, 3, 3, 2\] does not fit/],
      ['output channels that are not a multiple of the input channels', { filter: [1, 3, 3, 3], scales: [0.1] }, /does not fit input 'x'/],
      ['per-channel scales along the wrong axis', { axis: 0 }, /'dw_kernel' has 4 scales along axis 0; expected 1, or 4 along axis 3/],
    ];
    for (const [what, opts, message] of cases) {
      it(what, () => {
        const e = errorOf(dwGraph(opts));
        expect(e.message).toMatch(/^operator 0 \(DEPTHWISE_CONV_2D\): /);
        expect(e.message).toMatch(message);
        expect(e.hint).toBeTruthy();
      });
    }
  });
});
