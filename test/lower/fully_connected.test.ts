/** lowerFullyConnected: TFLite's two multiplier paths, weight zero point, batches, call layout, errors. */
import { describe, expect, it } from 'vitest';
import { McutrainError } from '../../src/errors.ts';
import { lowerFullyConnected } from '../../src/lower/ops/fully_connected.ts';
import { GraphBuilder, constArray, field } from './graph_builder.ts';

function fcGraph(opts: {
  input?: number[]; output?: number[]; scales?: number[]; zeroPoints?: number[]; biasScale?: number | null; noBias?: boolean;
  inScale?: number; outScale?: number; keepNumDims?: boolean;
}) {
  const b = new GraphBuilder();
  const inScale = opts.inScale ?? 0.1, scales = opts.scales ?? [0.3];
  const x = b.activation('x', opts.input ?? [2, 4], inScale, 5);
  const w = b.weights('weights', [3, 4], [1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12], scales, 0, opts.zeroPoints);
  const inputs = [x, w];
  if (opts.noBias) inputs.push(-1);
  else inputs.push(b.bias('bias', [10, 20, 30], opts.biasScale === null ? undefined : opts.biasScale ?? Math.fround(inScale) * Math.fround(scales[0])));
  const y = b.activation('y', opts.output ?? [2, 3], opts.outScale ?? 0.5, -6);
  const op = b.op('FULLY_CONNECTED', inputs, [y], { activation: 'NONE', keepNumDims: opts.keepNumDims ?? false });
  return { graph: b.graph(), op };
}

function errorOf(g: ReturnType<typeof fcGraph>): McutrainError {
  try {
    lowerFullyConnected(g.graph, g.op);
  } catch (e) {
    if (e instanceof McutrainError) return e;
    throw e;
  }
  throw new Error('expected a McutrainError');
}

/** Q31 multiplier and shift of a positive real, by normalizing into [0.5, 1). */
function q31(real: number): [number, number] {
  let shift = 0;
  while (real * 2 ** -shift >= 1) shift++;
  while (real * 2 ** -shift < 0.5) shift--;
  return [Math.round(real * 2 ** (31 - shift)), shift];
}

describe('lowerFullyConnected', () => {
  it('per-tensor weights: multiplies the two scales in float32 before dividing (TFLite GetQuantizedConvolutionMultipler)', () => {
    const { graph, op } = fcGraph({});
    const call = lowerFullyConnected(graph, op);
    const inS = Math.fround(0.1), wS = Math.fround(0.3);
    // The float32 product has 24 significant bits, and dividing by 0.5 is exact, so the multiplier is that product's bits.
    const [m, s] = q31(Math.fround(inS * wS) / 0.5);
    expect(m % 128).toBe(0);
    expect(constArray(call, 'mult')).toEqual([m, m, m]);
    expect(constArray(call, 'shift')).toEqual([s, s, s]);
    // The double product (the per-channel formula) would round differently here.
    expect(q31((inS * wS) / 0.5)[0]).not.toBe(m);
  });

  it('per-channel weights: multiplies in double (TFLite PopulateConvolutionQuantizationParams)', () => {
    const scales = [0.3, 0.7, 0.011];
    const { graph, op } = fcGraph({ scales });
    const call = lowerFullyConnected(graph, op);
    const want = scales.map((s) => q31((Math.fround(0.1) * Math.fround(s)) / 0.5));
    expect(constArray(call, 'mult')).toEqual(want.map((q) => q[0]));
    expect(constArray(call, 'shift')).toEqual(want.map((q) => q[1]));
    expect(field(call, 'filter_offset')).toBe(0);
  });

  it('keeps a per-tensor weight zero point as the filter offset', () => {
    const { graph, op } = fcGraph({ zeroPoints: [-3] });
    const call = lowerFullyConnected(graph, op);
    expect([field(call, 'input_offset'), field(call, 'filter_offset'), field(call, 'output_offset')]).toEqual([-5, 3, -6]);
  });

  it('reads any input as rows of the weights\' depth', () => {
    const shapes: [number[], number[], boolean][] = [[[2, 3, 4], [6, 3], false], [[2, 3, 4], [2, 3, 3], true], [[1, 1, 1, 8], [2, 3], false]];
    for (const [input, output, keepNumDims] of shapes) {
      const { graph, op } = fcGraph({ input, output, keepNumDims });
      const call = lowerFullyConnected(graph, op);
      const rows = input.reduce((a, c) => a * c, 1) / 4;
      expect([field(call, 'batches'), field(call, 'accum_depth'), field(call, 'output_depth')]).toEqual([rows, 4, 3]);
      expect(call.macs).toBe(rows * 4 * 3);
    }
  });

  it('lays out the call as mt_fully_connected_s8 takes it, NULL for an absent bias', () => {
    const { graph, op } = fcGraph({ noBias: true });
    const call = lowerFullyConnected(graph, op);
    expect(call.fn).toBe('mt_fully_connected_s8');
    expect(call.structs[0].ctype).toBe('mt_fully_connected_params');
    // TFLite Micro rounds twice by default; the interpreter's FULLY_CONNECTED rounds once (src/lower/numerics.ts)
    expect(field(call, 'rounding')).toBe('MT_ROUND_DOUBLE');
    expect(field(lowerFullyConnected(graph, op, { numerics: 'tflite' }), 'rounding')).toBe('MT_ROUND_SINGLE');
    expect(call.args).toEqual([
      { kind: 'struct', name: 'params' },
      { kind: 'tensor', tensor: 0 },
      { kind: 'tensor', tensor: 1 },
      { kind: 'null' },
      { kind: 'const', name: 'mult' },
      { kind: 'const', name: 'shift' },
      { kind: 'tensor', tensor: 2 },
    ]);
  });

  describe('rejects with an error naming the operator and tensor', () => {
    const cases: [string, Parameters<typeof fcGraph>[0], RegExp][] = [
      ['an input that does not split into rows', { input: [2, 7] }, /input 'x' \[2, 7\] does not split into rows of 4 values/],
      ['a wrong output shape', { output: [2, 4] }, /output 'y' has shape \[2, 4\], expected 2 rows of 3/],
      ['per-channel weights with a zero point', { scales: [0.1, 0.2, 0.3], zeroPoints: [0, 1, 0] }, /'weights' has zero point 1/],
      ['a bias quantized with another scale', { biasScale: 0.5 }, /bias 'bias' has scale 0\.5, but input scale \* weight scale is/],
      ['a bias without quantization (TFLite reads its scale as 0)', { biasScale: null, outScale: 0.001 }, /bias 'bias' has scale 0/],
    ];
    for (const [what, opts, message] of cases) {
      it(what, () => {
        const e = errorOf(fcGraph(opts));
        expect(e.message).toMatch(/^operator 0 \(FULLY_CONNECTED\): /);
        expect(e.message).toMatch(message);
        expect(e.hint).toBeTruthy();
      });
    }
  });
});
