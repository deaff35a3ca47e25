/**
 * mt_mean_s8 on parameters from lowerMean:
 *  - tflm numerics against TensorFlow Lite Micro's QuantizedMeanOrSum written out here from its
 *    definition (the path TFLM takes for every MEAN, equal quantizations included), and against exact
 *    rational arithmetic: the rounded real mean, off by one only near a rounding tie (TFLite rounds
 *    twice: the Q31 product to an integer, then the right shift by r, so an exact value within
 *    2^-(r+1) of a tie may tip over);
 *  - tflite numerics' truncating path (the interpreter without keep_dims between equal quantizations).
 * The interpreter's other paths are checked against the interpreter itself (interpreter_agreement.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Numerics } from '../../src/lower/numerics.ts';
import { lowerMean } from '../../src/lower/ops/mean.ts';
import { quantizeMultiplier, roundHalfAwayFromZero } from '../../src/lower/quant_params.ts';
import { field, GraphBuilder } from '../lower/graph_builder.ts';
import { buildKernelHarness, seededInts, type KernelHarness } from './c_harness.ts';
import { runCases } from './case_runner.ts';
import { clamp, multiplyByQuantizedMultiplier } from './int8_reference.ts';

let harness: KernelHarness;
beforeAll(() => { harness = buildKernelHarness('mean', ['mean']); });
afterAll(() => harness?.cleanup());

type Shape4 = [number, number, number, number];

const MODES = ['MT_MEAN_DIVIDE', 'MT_MEAN_REQUANTIZE', 'MT_MEAN_FLOAT'];
const f32 = new Float32Array(1);
const bitsOf = (x: number) => { f32[0] = x; return new Int32Array(f32.buffer)[0]; };

function runMean(input: number[], shape: Shape4, inQ: [number, number], outQ: [number, number], numerics: Numerics = 'tflm') {
  const [n, , , c] = shape;
  const b = new GraphBuilder();
  const x = b.activation('features', shape, ...inQ);
  const axes = b.bias('axes', [1, 2]);
  const y = b.activation('pooled', [n, c], ...outQ);
  const call = lowerMean(b.graph(), b.op('MEAN', [x, axes], [y], { keepDims: false }), { numerics });
  const [mode, inZp, outZp, multiplier, shift, scale, bias] = ['mode', 'input_zero_point', 'output_zero_point', 'multiplier', 'shift', 'scale', 'bias'].map((f) => field(call, f));
  const params = [MODES.indexOf(String(mode)), inZp, outZp, multiplier, shift, bitsOf(Number(scale)), bitsOf(Number(bias)), ...shape].map(Number);
  if (mode === 'MT_MEAN_REQUANTIZE') expect([inZp, outZp]).toEqual([inQ[1], outQ[1]]);
  return { mode, multiplier: Number(multiplier), shift: Number(shift), out: runCases(harness, [[...params, ...input]])[0] };
}

/**
 * TensorFlow Lite Micro's int8 MEAN (reduce_common.cc -> reference_ops::QuantizedMeanOrSum), from its
 * definition: QuantizeMultiplier(double(input_scale) / double(output_scale)); 1/count folded in by a
 * left shift of floor(log2(count)) (at most 32 and at most 31 + shift) and an int64 division; then
 * MultiplyByQuantizedMultiplier(sum - input_zero_point * count) + output_zero_point, clamped.
 */
function tflmMean(sum: number, count: number, [inScale, inZp]: [number, number], [outScale, outZp]: [number, number]): number {
  const q = quantizeMultiplier(Math.fround(inScale) / Math.fround(outScale));
  const shift = Math.min(Math.floor(Math.log2(count)), 32, 31 + q.shift);
  const multiplier = Number((BigInt(q.multiplier) * 2n ** BigInt(shift)) / BigInt(count));
  return clamp(multiplyByQuantizedMultiplier(sum - inZp * count, multiplier, q.shift - shift) + outZp, -128, 127);
}

/** Per (n, c): the window sum. */
function windowSums(input: number[], [n, h, w, c]: Shape4): number[] {
  const sums = Array(n * c).fill(0);
  for (let b = 0; b < n; b++) for (let i = 0; i < h * w; i++) for (let ch = 0; ch < c; ch++) sums[b * c + ch] += input[(b * h * w + i) * c + ch];
  return sums;
}

/** n random int8 values. */
const int8s = (rand: (lo: number, hi: number) => number, n: number) => Array.from({ length: n }, () => rand(-128, 127));

describe('mean kernel', () => {
  it('passes its C self-test (hand-worked means in all three modes)', () => {
    expect(harness.run([])).toContain('PASS mean');
  });

  it('rounds a 7x7x1280 global average between equal quantizations as TFLite Micro does (no truncation)', () => {
    const shape: Shape4 = [1, 7, 7, 1280];
    const q: [number, number] = [0.0235, -128];
    const input = int8s(seededInts(49), 7 * 7 * 1280);
    const { mode, out } = runMean(input, shape, q, q);
    expect(mode).toBe('MT_MEAN_REQUANTIZE');
    const sums = windowSums(input, shape);
    expect(out).toEqual(sums.map((s) => tflmMean(s, 49, q, q)));
    // the case matters: the truncated mean differs on a large share of these outputs
    const truncatedDiffers = sums.filter((s, i) => Math.trunc(s / 49) !== out[i]).length;
    expect(truncatedDiffers).toBeGreaterThan(1280 / 4);
  });

  it('rounds -0.5 to -1 and 2.75 to 3 between equal quantizations in tflm numerics', () => {
    const { out } = runMean([-1, 3, 0, 3, -2, 2, 1, 3], [1, 2, 2, 2], [0.1, 0], [0.1, 0]); // channel 0 sums to -2, channel 1 to 11
    expect(out).toEqual([-1, 3]);
  });

  it('matches TFLite Micro\'s QuantizedMeanOrSum on random shapes and quantizations, equal ones included', () => {
    const rand = seededInts(2022);
    for (let k = 0; k < 40; k++) {
      const shape: Shape4 = [rand(1, 2), rand(1, 12), rand(1, 12), rand(1, 24)];
      const inQ: [number, number] = [Math.fround(10 ** (rand(-2500, 0) / 1000)), rand(-128, 127)];
      const outQ: [number, number] = k % 2 ? inQ : [Math.fround(10 ** (rand(-2500, 0) / 1000)), rand(-128, 127)];
      const input = int8s(rand, shape.reduce((a, b) => a * b, 1));
      const { out } = runMean(input, shape, inQ, outQ);
      expect(out, `case ${k}: ${JSON.stringify({ shape, inQ, outQ })}`).toEqual(windowSums(input, shape).map((s) => tflmMean(s, shape[1] * shape[2], inQ, outQ)));
    }
  });

  it('divides the raw sum, truncating toward zero, between equal quantizations in tflite numerics (the interpreter without keep_dims)', () => {
    const shape: Shape4 = [2, 3, 5, 4];
    const input = int8s(seededInts(11), 120);
    const { mode, out } = runMean(input, shape, [0.05, -7], [0.05, -7], 'tflite');
    expect(mode).toBe('MT_MEAN_DIVIDE');
    expect(out).toEqual(windowSums(input, shape).map((s) => Math.trunc(s / 15)));
    expect(runMean([-1, 3, 0, 3, -2, 2, 1, 3], [1, 2, 2, 2], [0.1, 0], [0.1, 0], 'tflite').out).toEqual([0, 2]);
  });

  const requantCases: { name: string; shape: Shape4; inQ: [number, number]; outQ: [number, number] }[] = [
    { name: 'a different zero point', shape: [1, 7, 7, 8], inQ: [0.1, 3], outQ: [0.1, -5] },
    { name: 'a smaller output scale', shape: [2, 4, 6, 5], inQ: [0.2, -128], outQ: [0.07, 10] },
    { name: 'a larger output scale', shape: [1, 3, 3, 16], inQ: [0.02, 0], outQ: [0.35, -20] },
    { name: 'a 1x1 window', shape: [1, 1, 1, 9], inQ: [0.5, 1], outQ: [0.25, 0] },
    { name: 'a 10x10 window', shape: [1, 10, 10, 3], inQ: [0.031, -2], outQ: [0.029, 4] },
  ];
  for (const c of requantCases) {
    it(`matches the rounded exact mean with ${c.name}`, () => {
      const size = c.shape.reduce((a, b) => a * b, 1);
      const input = int8s(seededInts(size), size);
      const { mode, multiplier, shift, out } = runMean(input, c.shape, c.inQ, c.outQ);
      expect(mode).toBe('MT_MEAN_REQUANTIZE');
      // Error of the first rounding, seen after the right shift, plus the multiplier's own error.
      const rightShift = Math.max(0, -shift);
      const tieMargin = (rightShift > 0 ? 2 ** -(rightShift + 1) : 0) + 1e-6;
      let nearTies = 0;
      const count = c.shape[1] * c.shape[2];
      windowSums(input, c.shape).forEach((sum, i) => {
        // Bit-exact: TFLite's arithmetic on the lowered parameters, from the test oracle.
        expect(out[i]).toBe(clamp(multiplyByQuantizedMultiplier(sum - c.inQ[1] * count, multiplier, shift) + c.outQ[1], -128, 127));
        // And the parameters mean what they should: the exact mean, rounded.
        const [inScale, outScale] = [Math.fround(c.inQ[0]), Math.fround(c.outQ[0])]; // as stored in a .tflite
        const real = (inScale * (sum - c.inQ[1] * count)) / count; // the exact mean, dequantized
        const exact = real / outScale + c.outQ[1];
        const want = Math.min(127, Math.max(-128, roundHalfAwayFromZero(exact)));
        const nearTie = Math.abs(Math.abs(exact % 1) - 0.5) < tieMargin;
        if (nearTie) {
          nearTies++;
          expect(Math.abs(out[i] - want)).toBeLessThanOrEqual(1);
        } else {
          expect(out[i], `output ${i}: exact ${exact}`).toBe(want);
        }
      });
      expect(nearTies).toBeLessThan(out.length / 4); // the exact check must cover most outputs
    });
  }

  it('saturates to the int8 range', () => {
    const { out } = runMean([127, -128, 127, -128], [1, 2, 1, 2], [1, 0], [0.25, 0]);
    expect(out).toEqual([127, -128]);
  });
});
