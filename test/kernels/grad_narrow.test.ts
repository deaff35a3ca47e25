/**
 * The narrow-gradient kernels (train_narrow.h, int16 and int8 storage): the quantizer's hand-worked
 * cases; every kernel bit for bit against its mirror (grad_narrow_reference.ts) on random shapes,
 * exponents and accumulations; the mirrors against the float32 mirrors of train_reference.ts (the
 * narrow result is the float one within one step of its exponent), so a mirror of a wrong algorithm
 * fails too; and the in-place depthwise input gradient equal to the out-of-place one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKernelHarness, type KernelHarness } from './c_harness.ts';
import { caseDraws, D, geometry, I, NT, runTokenCases, type Token } from './grad_cases.ts';
import {
  avgPoolGradNarrow, biasUpdateNarrow, clampMask, dwGradInputGatherF32, convGradInputNarrow, convUpdateNarrow, dequantize, EXP_ZERO, fcGradInputNarrow,
  fcUpdateNarrow, gradCopy, maskApply, meanGradNarrow, neededExp, padGradNarrow, qmax, quantize, shiftDown, softmaxXentNarrow,
  Writer, type Bits, type Narrow,
} from './grad_narrow_reference.ts';
import {
  avgPoolGrad, bitsOf, convGradInput, count, dwGradInput, fcGradInput, meanGrad, padGrad, randomConvShape, softmaxXent,
  type PoolGeometry,
} from './train_reference.ts';

const KERNELS = ['grad_s16', 'grad_s8', 'train_loss', 'depthwise_conv_backward'];
let harness: KernelHarness;
beforeAll(() => { harness = buildKernelHarness('grad_narrow', KERNELS, ['-ffp-contract=off', '-Wdouble-promotion']); });
afterAll(() => harness?.cleanup());

const f = Math.fround;
const OP = { loss: 1, mask: 2, copy: 3, convGi: 4, dwGi: 5, fcGi: 6, poolGi: 7, meanGi: 8, padGi: 9, bias: 10, convUpdate: 11, dwUpdate: 12, fcUpdate: 13, dwInPlaceF32: 14 } as const;
const F = (...v: number[]): Token[] => v.map((x) => bitsOf(x).toString(16));

/** Runs the cases in one process; the numbers of each case's line (floats as their bits, in hex, where the case prints them). */
const run = (cases: Token[][]): string[][] => runTokenCases(harness, cases);
const ints = (t: string[]) => t.map(Number);
const hexBits = (t: string[]) => t.map((x) => parseInt(x, 16));

const gen = (seed: number) => caseDraws(seed, 0x2c1b3c6d, 0.05);

/** The narrow result matches the float one within one step of its exponent (plus the rounding of the float sums). */
function expectNearFloat(what: string, got: Narrow, want: number[], bits: Bits): void {
  const deq = dequantize(got);
  const maxAbs = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  // one step of the final exponent: renormalization can round twice (up to a step), quantization once
  const step = got.exp === EXP_ZERO ? 0 : 2 ** got.exp;
  for (let i = 0; i < want.length; i++) {
    expect(Math.abs(deq[i] - want[i]), `${what} element ${i}: ${deq[i]} vs ${want[i]}`).toBeLessThanOrEqual(step * 1.0001 + 1e-6 * maxAbs);
  }
  if (maxAbs > 0 && maxAbs < 2 ** 100) {
    // the exponent is the largest value's: |q| reaches at least a quarter of the range
    expect(Math.max(...got.q.map(Math.abs)), what).toBeGreaterThanOrEqual(2 ** (bits - 3));
  }
}

describe('narrow gradient quantizer', () => {
  it('chooses the exponent of the largest value and rounds half away from zero', () => {
    expect(neededExp(1, 0, 16)).toBe(-14); // 1 = 16384 * 2^-14
    expect(quantize(1, 0, -14, 32767)).toBe(16384);
    expect(neededExp(f(1.99999), 0, 16)).toBe(-14);
    expect(quantize(f(1.99999), 0, -14, 32767)).toBe(32767); // rounds to 2^15: saturates
    expect(neededExp(-0.75, 0, 8)).toBe(-7);
    expect(quantize(-0.75, 0, -7, 127)).toBe(-96);
    expect(quantize(1.5, 0, 0, 127)).toBe(2); // half away
    expect(quantize(-2.5, 0, 0, 127)).toBe(-3);
    expect(quantize(0.25, 0, 0, 127)).toBe(0); // below half a step
    expect(quantize(1, 3, 0, 127)).toBe(8); // extra exponent
    expect(neededExp(0, 0, 16)).toBe(EXP_ZERO);
    expect(shiftDown(3, 1)).toBe(2);
    expect(shiftDown(-3, 1)).toBe(-2);
    expect(shiftDown(5, 2)).toBe(1);
  });

  it('renormalizes the stored prefix when a larger value arrives (int8: 1, then 4, then 0.5)', () => {
    const q = [0, 0, 0];
    const w = new Writer(q, 8);
    w.put(0, 1, 0); // exp -6: 64
    expect([w.exp, q[0]]).toEqual([-6, 64]);
    w.put(1, 4, 0); // exp -4: 64, the 1 becomes 16
    expect([w.exp, ...q.slice(0, 2)]).toEqual([-4, 16, 64]);
    w.put(2, 0.5, 0);
    expect(q).toEqual([16, 64, 8]);
  });

  it('writes the C quantizer\'s bits for every kernel input (C against the mirror)', () => {
    const { rand, u } = gen(3);
    for (const bits of [16, 8] as Bits[]) {
      // the writer itself, through a copy with accumulate onto zero: values at many scales, in random order
      const cases: Token[][] = [];
      const wants: Narrow[] = [];
      for (let k = 0; k < 40; k++) {
        const n = rand(1, 60);
        const src: Narrow = { q: Array.from({ length: n }, () => Math.round((2 * u() - 1) * 2 ** rand(0, bits - 1))), exp: rand(-20, 5) };
        const dst: Narrow = { q: Array.from({ length: n }, () => rand(-qmax(bits), qmax(bits))), exp: rand(-25, 8) };
        cases.push([...I(OP.copy, bits, n), ...NT(src), ...I(dst.exp, 1, ...dst.q)]);
        wants.push(gradCopy(src, dst, true, bits));
      }
      run(cases).forEach((r, i) => expect(ints(r), `copy case ${i}`).toEqual([wants[i].exp, ...wants[i].q]));
    }
  });
});

describe('narrow gradient kernels against their mirrors', () => {
  for (const bits of [16, 8] as Bits[]) {
    it(`int${bits}: the loss, masks and copies`, () => {
      const { rand, u, narrow } = gen(bits + 1);
      const cases: Token[][] = [];
      const checks: ((r: string[]) => void)[] = [];
      for (let k = 0; k < 30; k++) {
        const n = rand(1, 12), label = rand(-1, n - 1), logits = Array.from({ length: n }, () => rand(-128, 127)), scale = f(0.01 + u() * 0.3);
        cases.push([...I(OP.loss, bits, n), ...F(scale), ...I(label, ...logits)]);
        const want = softmaxXentNarrow(logits, scale, label, bits);
        const float = softmaxXent(logits, scale, label);
        expect(bitsOf(want.loss)).toBe(bitsOf(float.loss));
        expectNearFloat('loss gradient', want.grad, float.grad, bits);
        checks.push((r) => {
          expect(hexBits(r.slice(0, 1))).toEqual([bitsOf(want.loss)]);
          expect(ints(r.slice(1))).toEqual([want.predicted, want.grad.exp, ...want.grad.q]);
        });
      }
      for (let k = 0; k < 30; k++) {
        const n = rand(1, 40), kind = k % 3, g = narrow(n, bits);
        const out = Array.from({ length: n }, () => rand(-128, 127)), bytes = Array.from({ length: (n + 7) >> 3 }, () => rand(0, 255));
        const [min, max] = [rand(-128, 0), rand(0, 127)];
        cases.push([...I(OP.mask, bits, kind, n, min, max), ...I(...(kind === 2 ? bytes : out)), ...I(...g.q)]);
        const want = kind === 2 ? maskApply(bytes, g.q) : clampMask(out, g.q, min, max, kind === 1);
        checks.push((r) => expect(ints(r)).toEqual(want));
      }
      for (let k = 0; k < 20; k++) {
        const n = rand(1, 30), src = narrow(n, bits), dst = narrow(n, bits), acc = rand(0, 1) === 1;
        cases.push([...I(OP.copy, bits, n), ...NT(src), ...I(dst.exp, acc ? 1 : 0, ...dst.q)]);
        const want = gradCopy(src, dst, acc, bits);
        checks.push((r) => expect(ints(r)).toEqual([want.exp, ...want.q]));
      }
      run(cases).forEach((r, i) => checks[i](r));
    });

    it(`int${bits}: the input gradients (conv, depthwise, FC, average pool, MEAN, PAD), with and without accumulation`, () => {
      const { rand, narrow, scales } = gen(bits + 7);
      const cases: Token[][] = [];
      const wants: Narrow[] = [];
      const float = (t: Narrow) => dequantize(t);
      for (let k = 0; k < 120; k++) {
        const kind = k % 6, acc = rand(0, 2) === 0;
        if (kind <= 1) {
          const dw = kind === 1, s = randomConvShape(rand, dw, { filterMax: dw ? 5 : 3 });
          const w = Array.from({ length: count(s.fD) }, () => rand(-127, 127)), sc = scales(s.outD.c);
          const go = narrow(count(s.outD), bits), old = narrow(count(s.inD), bits);
          cases.push([...I(dw ? OP.dwGi : OP.convGi, bits), ...geometry(s.g), ...(dw ? I(s.g.depthMultiplier, 0) : []), ...D(s.inD), ...D(s.fD), ...D(s.outD),
            ...I(...w), ...F(...sc), ...NT(go), ...I(old.exp, acc ? 1 : 0, ...old.q)]);
          const want = convGradInputNarrow(s.g, dw, s.inD, s.fD, w, sc, s.outD, go, old, acc, bits);
          const ref = (dw ? dwGradInput : convGradInput)(s.g, s.inD, s.fD, w, sc, s.outD, float(go), float(old), acc);
          expectNearFloat(dw ? 'depthwise' : 'conv', want, ref, bits);
          wants.push(want);
        } else if (kind === 2) {
          const batches = rand(1, 3), depth = rand(1, 20), outDepth = rand(1, 10);
          const w = Array.from({ length: depth * outDepth }, () => rand(-127, 127)), sc = scales(outDepth);
          const go = narrow(batches * outDepth, bits), old = narrow(batches * depth, bits);
          cases.push([...I(OP.fcGi, bits, batches, depth, outDepth, ...w), ...F(...sc), ...NT(go), ...I(old.exp, acc ? 1 : 0, ...old.q)]);
          const want = fcGradInputNarrow(batches, depth, outDepth, w, sc, go, old, acc, bits);
          expectNearFloat('fc', want, fcGradInput(batches, depth, outDepth, w, sc, float(go), float(old), acc), bits);
          wants.push(want);
        } else if (kind === 3) {
          const inD = { n: rand(1, 2), h: rand(1, 7), w: rand(1, 7), c: rand(1, 3) };
          const p: PoolGeometry = { strideH: rand(1, 3), strideW: rand(1, 3), filterH: rand(1, 4), filterW: rand(1, 4), padH: 0, padW: 0 };
          p.padH = rand(0, p.filterH - 1);
          p.padW = rand(0, p.filterW - 1);
          const outD = { n: inD.n, h: Math.max(1, Math.floor((inD.h + 2 * p.padH - p.filterH) / p.strideH) + 1), w: Math.max(1, Math.floor((inD.w + 2 * p.padW - p.filterW) / p.strideW) + 1), c: inD.c };
          const go = narrow(count(outD), bits), old = narrow(count(inD), bits);
          cases.push([...I(OP.poolGi, bits, p.strideH, p.strideW, p.filterH, p.filterW, p.padH, p.padW), ...D(inD), ...D(outD), ...NT(go), ...I(old.exp, acc ? 1 : 0, ...old.q)]);
          const want = avgPoolGradNarrow(p, inD, outD, go, old, acc, bits);
          expectNearFloat('avg pool', want, avgPoolGrad(p, inD, outD, float(go), float(old), acc), bits);
          wants.push(want);
        } else if (kind === 4) {
          const inD = { n: rand(1, 2), h: rand(1, 6), w: rand(1, 6), c: rand(1, 5) };
          const go = narrow(inD.n * inD.c, bits), old = narrow(count(inD), bits);
          cases.push([...I(OP.meanGi, bits), ...D(inD), ...NT(go), ...I(old.exp, acc ? 1 : 0, ...old.q)]);
          const want = meanGradNarrow(inD, go, old, acc, bits);
          expectNearFloat('mean', want, meanGrad(inD, float(go), float(old), acc), bits);
          wants.push(want);
        } else {
          const inD = { n: 1, h: rand(1, 5), w: rand(1, 5), c: rand(1, 4) };
          const before = [0, rand(0, 2), rand(0, 2), rand(0, 1)];
          const outD = { n: 1, h: inD.h + before[1] + rand(0, 2), w: inD.w + before[2] + rand(0, 2), c: inD.c + before[3] + rand(0, 1) };
          const go = narrow(count(outD), bits), old = narrow(count(inD), bits);
          cases.push([...I(OP.padGi, bits), ...D(inD), ...D(outD), ...I(...before), ...NT(go), ...I(old.exp, acc ? 1 : 0, ...old.q)]);
          const want = padGradNarrow(inD, outD, before, go, old, acc, bits);
          expectNearFloat('pad', want, padGrad(inD, outD, before, float(go), float(old), acc), bits);
          wants.push(want);
        }
      }
      run(cases).forEach((r, i) => expect(ints(r), `case ${i} (kind ${i % 6})`).toEqual([wants[i].exp, ...wants[i].q]));
    });

    it(`int${bits}: the depthwise input gradient in place (stride 1) equals the one out of place`, () => {
      const { rand, narrow, scales } = gen(bits + 11);
      const cases: Token[][] = [];
      const wants: Narrow[] = [];
      for (let k = 0; k < 40; k++) {
        const s = randomConvShape(rand, true, { filterMax: 5, stride1Same: true });
        const w = Array.from({ length: count(s.fD) }, () => rand(-127, 127)), sc = scales(s.outD.c);
        const go = narrow(count(s.outD), bits);
        expect(count(s.outD)).toBe(count(s.inD));
        cases.push([...I(OP.dwGi, bits), ...geometry(s.g), ...I(1, 1), ...D(s.inD), ...D(s.fD), ...D(s.outD),
          ...I(...w), ...F(...sc), ...NT(go), ...I(EXP_ZERO, 0, ...go.q)]);
        wants.push(convGradInputNarrow(s.g, true, s.inD, s.fD, w, sc, s.outD, go, { q: [], exp: EXP_ZERO }, false, bits));
      }
      run(cases).forEach((r, i) => expect(ints(r), `case ${i}`).toEqual([wants[i].exp, ...wants[i].q]));
    });

    if (bits === 16) {
      it('float32: the depthwise input gradient in place equals its gather mirror and the scatter kernel\'s sums', () => {
        const { rand, u, scales } = gen(29);
        const cases: Token[][] = [];
        const wants: number[][] = [];
        for (let k = 0; k < 40; k++) {
          const s = randomConvShape(rand, true, { filterMax: 5, stride1Same: true });
          const w = Array.from({ length: count(s.fD) }, () => rand(-127, 127)), sc = scales(s.outD.c);
          const go = Array.from({ length: count(s.outD) }, () => f(2 * u() - 1));
          cases.push([...I(OP.dwInPlaceF32, 0), ...geometry(s.g), ...D(s.inD), ...D(s.fD), ...D(s.outD), ...I(...w), ...F(...sc, ...go)]);
          const want = dwGradInputGatherF32(s.g, s.inD, s.fD, w, sc, s.outD, go);
          const scatter = dwGradInput(s.g, s.inD, s.fD, w, sc, s.outD, go, [], false);
          want.forEach((v, i) => expect(Math.abs(v - scatter[i])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(scatter[i]))));
          wants.push(want);
        }
        run(cases).forEach((r, i) => expect(hexBits(r), `case ${i}`).toEqual(wants[i].map(bitsOf)));
      });
    }

    it(`int${bits}: the bias and weight updates`, () => {
      const { rand, u, narrow } = gen(bits + 13);
      const cases: Token[][] = [];
      const checks: ((r: string[]) => void)[] = [];
      const sgd = { lr: f(0.5 + u()), momentum: f(0.5) };
      const factors = (n: number) => Array.from({ length: n }, () => f(0.5 + 200 * u()));
      const expectUpdate = (r: string[], want: { params: number[]; momentum: number[] }, n: number) => {
        expect(ints(r.slice(0, n))).toEqual(want.params);
        expect(hexBits(r.slice(n))).toEqual(want.momentum.slice(0, n).map(bitsOf));
      };
      for (let k = 0; k < 40; k++) {
        const kind = k % 4;
        if (kind === 0) {
          const outD = { n: rand(1, 2), h: rand(1, 6), w: rand(1, 6), c: rand(1, 6) }, nCh = rand(1, outD.c);
          const bias = Array.from({ length: nCh }, () => rand(-100000, 100000)), gf = factors(nCh), go = { ...narrow(count(outD), bits), exp: rand(-20, -8) };
          cases.push([...I(OP.bias, bits), ...D(outD), ...I(nCh), ...F(sgd.lr, sgd.momentum), ...I(...bias), ...F(...gf), ...NT(go)]);
          const want = biasUpdateNarrow(outD, go, bias, gf, nCh, sgd, new Array<number>(nCh).fill(0));
          checks.push((r) => expectUpdate(r, want, nCh));
        } else if (kind === 3) {
          const batches = rand(1, 3), depth = rand(1, 20), outDepth = rand(1, 8), nCh = rand(1, outDepth);
          const input = Array.from({ length: batches * depth }, () => rand(-128, 127)), w = Array.from({ length: depth * outDepth }, () => rand(-127, 127));
          const offset = rand(-20, 128), inScale = f(0.01 + 0.05 * u()), gf = factors(nCh), go = { ...narrow(batches * outDepth, bits), exp: rand(-24, -10) };
          cases.push([...I(OP.fcUpdate, bits, batches, depth, outDepth, offset), ...F(inScale), ...I(nCh), ...F(sgd.lr, sgd.momentum), ...I(...input, ...w), ...F(...gf), ...NT(go)]);
          const want = fcUpdateNarrow(batches, depth, outDepth, input, inScale, offset, w, gf, nCh, go, sgd, new Array<number>(w.length).fill(0));
          checks.push((r) => expectUpdate(r, want, w.length));
        } else {
          const dw = kind === 2, s = randomConvShape(rand, dw, { filterMax: dw ? 5 : 3 }), nCh = rand(1, s.outD.c);
          const input = Array.from({ length: count(s.inD) }, () => rand(-128, 127)), w = Array.from({ length: count(s.fD) }, () => rand(-127, 127));
          const offset = rand(-20, 128), inScale = f(0.01 + 0.05 * u()), gf = factors(nCh), go = { ...narrow(count(s.outD), bits), exp: rand(-24, -10) };
          cases.push([...I(dw ? OP.dwUpdate : OP.convUpdate, bits), ...geometry(s.g), ...(dw ? I(s.g.depthMultiplier) : []), ...D(s.inD), ...D(s.fD), ...D(s.outD),
            ...I(offset), ...F(inScale), ...I(nCh), ...F(sgd.lr, sgd.momentum), ...I(...input, ...w), ...F(...gf), ...NT(go)]);
          const want = convUpdateNarrow(s.g, dw, offset, s.inD, input, inScale, s.fD, w, gf, nCh, s.outD, go, sgd, new Array<number>(w.length).fill(0));
          checks.push((r) => expectUpdate(r, want, w.length));
        }
      }
      run(cases).forEach((r, i) => checks[i](r));
    });
  }
});
