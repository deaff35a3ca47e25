/** lowerConv2d: parameters as TFLite Micro's Prepare computes them, the call layout, and clear errors. */
import { describe, expect, it } from 'vitest';
import type { ConvOptions } from '../../src/ir/graph.ts';
import { McutrainError } from '../../src/errors.ts';
import { lowerConv2d } from '../../src/lower/ops/conv.ts';
import { GraphBuilder, constArray, field } from './graph_builder.ts';

const OPTIONS: ConvOptions = { padding: 'VALID', strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, activation: 'NONE' };

/** input [1, h, w, c] -> conv with filter [oc, fh, fw, c] -> output [1, oh, ow, oc]. */
function convGraph(opts: {
  input?: number[]; filter?: number[]; output?: number[]; filterScales?: number[]; filterAxis?: number;
  filterZeroPoints?: number[]; bias?: number[] | null; options?: Partial<ConvOptions>;
  inQ?: [number, number]; outQ?: [number, number];
}) {
  const b = new GraphBuilder();
  const inShape = opts.input ?? [1, 5, 5, 1];
  const fShape = opts.filter ?? [2, 3, 3, 1];
  const x = b.activation('image', inShape, ...(opts.inQ ?? [0.5, -1]));
  const n = fShape.reduce((a, c) => a * c, 1);
  const w = b.weights('kernel', fShape, Array.from({ length: n }, (_, i) => (i % 7) - 3),
    opts.filterScales ?? [0.25, 0.1], opts.filterAxis ?? 0, opts.filterZeroPoints);
  const inputs = [x, w];
  if (opts.bias !== null) inputs.push(b.bias('bias', opts.bias ?? fShape.slice(0, 1).flatMap((c) => Array(c).fill(7))));
  else inputs.push(-1);
  const y = b.activation('features', opts.output ?? [1, 3, 3, fShape[0]], ...(opts.outQ ?? [0.125, 3]));
  const op = b.op('CONV_2D', inputs, [y], { ...OPTIONS, ...opts.options });
  return { graph: b.graph(), op };
}

function lowerError(g: ReturnType<typeof convGraph>): McutrainError {
  try {
    lowerConv2d(g.graph, g.op);
  } catch (e) {
    if (e instanceof McutrainError) return e;
    throw e;
  }
  throw new Error('expected a McutrainError');
}

describe('lowerConv2d', () => {
  it('computes per-channel multipliers in double from the float32 scales', () => {
    const { graph, op } = convGraph({});
    const call = lowerConv2d(graph, op);
    // channel 0: 0.5 * 0.25 / 0.125 = 1 = 0.5 * 2^1 -> (2^30, 1)
    // channel 1: the float32 nearest 0.1 is 0.100000001490116119384765625, so the scale is
    //   0.400000005960464477539 = 0.800000011920928955078 * 2^-1 -> 0.8000000119... * 2^31 = 1717986944
    //   (with the double 0.1 it would be 1717986918)
    expect(constArray(call, 'mult')).toEqual([2 ** 30, 1717986944]);
    expect(constArray(call, 'shift')).toEqual([1, -1]);
  });

  it('repeats a per-tensor filter scale for every channel (axis ignored, as TFLite Micro does)', () => {
    const { graph, op } = convGraph({ filterScales: [0.25], filterAxis: 3 });
    const call = lowerConv2d(graph, op);
    expect(constArray(call, 'mult')).toEqual([2 ** 30, 2 ** 30]);
    expect(constArray(call, 'shift')).toEqual([1, 1]);
  });

  it('passes offsets (minus input zero point, output zero point) and the NONE range', () => {
    const call = lowerConv2d(convGraph({}).graph, convGraph({}).op);
    expect(field(call, 'input_offset')).toBe(1);
    expect(field(call, 'output_offset')).toBe(3);
    expect(field(call, 'act_min')).toBe(-128);
    expect(field(call, 'act_max')).toBe(127);
  });

  it('quantizes fused RELU and RELU6 with the output scale', () => {
    const relu = convGraph({ outQ: [0.05, -10], options: { activation: 'RELU' } });
    const c1 = lowerConv2d(relu.graph, relu.op);
    expect([field(c1, 'act_min'), field(c1, 'act_max')]).toEqual([-10, 127]);
    const relu6 = convGraph({ outQ: [0.05, -10], options: { activation: 'RELU6' } });
    const c2 = lowerConv2d(relu6.graph, relu6.op);
    expect([field(c2, 'act_min'), field(c2, 'act_max')]).toEqual([-10, 110]); // -10 + 6 / 0.05
  });

  it('pads SAME windows on the leading side by half the total, rounded down', () => {
    // 5x5, 3x3, stride 2: 3 outputs, total padding (3-1)*2 + 3 - 5 = 2 -> 1 before
    const s2 = convGraph({ options: { padding: 'SAME', strideH: 2, strideW: 2 } });
    const c1 = lowerConv2d(s2.graph, s2.op);
    expect([field(c1, 'pad_h'), field(c1, 'pad_w')]).toEqual([1, 1]);
    // 4x6, 3x3, stride 2: 2x3 outputs, totals 1 and 1 -> 0 before (the extra row/column goes after)
    const odd = convGraph({ input: [1, 4, 6, 1], output: [1, 2, 3, 2], options: { padding: 'SAME', strideH: 2, strideW: 2 } });
    const c2 = lowerConv2d(odd.graph, odd.op);
    expect([field(c2, 'pad_h'), field(c2, 'pad_w')]).toEqual([0, 0]);
    // dilation 2 widens a 3x3 filter to 5x5: SAME on 5x5 keeps 5x5 with 2 before
    const dil = convGraph({ output: [1, 5, 5, 2], options: { padding: 'SAME', dilationH: 2, dilationW: 2 } });
    const c3 = lowerConv2d(dil.graph, dil.op);
    expect([field(c3, 'pad_h'), field(c3, 'pad_w'), field(c3, 'dilation_h')]).toEqual([2, 2, 2]);
    // VALID never pads
    const valid = convGraph({});
    const c4 = lowerConv2d(valid.graph, valid.op);
    expect([field(c4, 'pad_h'), field(c4, 'pad_w')]).toEqual([0, 0]);
  });

  it('lays out the call as mt_conv_s8 takes it, NULL for an absent bias, and counts MACs', () => {
    const { graph, op } = convGraph({ bias: null });
    const call = lowerConv2d(graph, op);
    expect(call.fn).toBe('mt_conv_s8');
    expect(call.args).toEqual([
      { kind: 'struct', name: 'params' },
      { kind: 'dims', values: [1, 5, 5, 1] },
      { kind: 'tensor', tensor: 0 },
      { kind: 'dims', values: [2, 3, 3, 1] },
      { kind: 'tensor', tensor: 1 },
      { kind: 'null' },
      { kind: 'const', name: 'mult' },
      { kind: 'const', name: 'shift' },
      { kind: 'dims', values: [1, 3, 3, 2] },
      { kind: 'tensor', tensor: 2 },
    ]);
    expect(call.structs[0].ctype).toBe('mt_conv_params');
    // TFLite Micro rounds twice by default; the interpreter's CONV_2D rounds once (src/lower/numerics.ts)
    expect(field(call, 'rounding')).toBe('MT_ROUND_DOUBLE');
    expect(field(lowerConv2d(graph, op, { numerics: 'tflite' }), 'rounding')).toBe('MT_ROUND_SINGLE');
    expect(call.consts.map((c) => [c.name, c.ctype])).toEqual([['mult', 'int32_t'], ['shift', 'int32_t']]);
    expect(call.scratchBytes).toBe(0);
    expect(call.macs).toBe(3 * 3 * 2 * 3 * 3 * 1);
  });

  it('accepts grouped convolution (filter depth dividing the input depth)', () => {
    const { graph, op } = convGraph({ input: [1, 5, 5, 4], filter: [2, 3, 3, 2], output: [1, 3, 3, 2] });
    expect(lowerConv2d(graph, op).macs).toBe(9 * 2 * 9 * 2);
  });

  describe('rejects with an error naming the operator, the tensor and a remedy', () => {
    const cases: [string, Parameters<typeof convGraph>[0], RegExp][] = [
      ['a filter depth that does not divide the input depth', { input: [1, 5, 5, 3], filter: [2, 3, 3, 2] }, /filter 'kernel'.*3 channels/],
      ['an output shape that disagrees with the window', { output: [1, 4, 4, 2] }, /output 'features' has shape \[1, 4, 4, 2\], expected \[1, 3, 3, 2\]/],
      ['per-channel scales of the wrong count', { filterScales: [0.1, 0.2, 0.3] }, /'kernel' has 3 scales.*expected 1, or 2 along axis 0/],
      ['asymmetric weights', { filterZeroPoints: [0, 4] }, /'kernel' has zero point 4/],
      ['a bias of the wrong length', { bias: [1, 2, 3] }, /bias 'bias' has 3 values for 2 output channels/],
      ['an unsupported fused activation', { options: { activation: 'TANH' } }, /TANH/],
      ['a zero stride', { options: { strideH: 0 } }, /strideH is 0/],
    ];
    for (const [what, opts, message] of cases) {
      it(what, () => {
        const e = lowerError(convGraph(opts));
        expect(e.message).toMatch(/^operator 0 \(CONV_2D\): /);
        expect(e.message).toMatch(message);
        expect(e.hint).toBeTruthy();
      });
    }

    it('a float32 input', () => {
      const g = convGraph({});
      g.graph.tensors[0].dtype = 'float32';
      const e = lowerError(g);
      expect(e.message).toMatch(/operator 0 \(CONV_2D\): input 'image' is float32, expected int8/);
      expect(e.hint).toMatch(/quantiz/);
    });

    it('an int8 bias', () => {
      const g = convGraph({});
      g.graph.tensors[2].dtype = 'int8';
      expect(lowerError(g).message).toMatch(/bias 'bias' is int8, expected int32/);
    });

    it('a bias so large the int32 accumulator could overflow (and not one less)', () => {
      // channel 0's weights are -3 -2 -1 0 1 2 3 -3 -2, |w| summing to 17; with input zero point -1 an
      // input term is at most |127 - (-1)| = 128, so the bias may be at most 2^31 - 1 - 17 * 128
      const limit = 2 ** 31 - 1 - 17 * 128;
      expect(() => lowerConv2d(convGraph({ bias: [limit, 0] }).graph, convGraph({ bias: [limit, 0] }).op)).not.toThrow();
      const e = lowerError(convGraph({ bias: [limit + 1, 0] }));
      expect(e.message).toMatch(/output channel 0 of 'kernel' can accumulate 2147483648, beyond the int32 accumulator/);
    });
  });
});
