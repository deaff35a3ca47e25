/**
 * The integer-only training kernels (train_int.h, int16 and int8 gradients): every kernel bit for bit
 * against its BigInt mirror (grad_int_reference.ts) on random shapes, exponents and accumulations;
 * the int16 results close to the float32 kernels' (their mirrors in train_reference.ts, on the same
 * dequantized gradients and float scales: cosine >= 0.99 per kernel, printed); the object files
 * built for Cortex-M0+ and Cortex-M3 (soft-float ABI) call nothing of the soft-float library; and the
 * digest battery (every kernel, both widths and roundings) gives the host's bits on the emulated
 * Cortex-M3 (mps2-an385), whose linked image holds no soft-float routine at all.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calculateInputRadius, preprocessSoftmaxScaling } from '../../src/lower/ops/softmax.ts';
import { loadMps2Target, makeFirmware, runHarnessOnBoard, writeMps2Project } from '../emulate/mps2_firmware.ts';
import { buildKernelHarness, STRICT_FLAGS, type KernelHarness } from './c_harness.ts';
import { caseDraws, D, geometry, I, NT, runTokenCases, type Token } from './grad_cases.ts';
import { dequantize, EXP_ZERO, qmax, type Bits, type Narrow } from './grad_narrow_reference.ts';
import {
  avgPoolGradInt, biasUpdateInt, convGradInputInt, convUpdateInt, fcGradInputInt, fcUpdateInt, fixedFactors, fixedScales, gradCopyInt,
  log2Q16, meanGradInt, padGradInt, sgdInt, softmaxXentInt, type IntFactors, type SgdInt, type XentParams,
} from './grad_int_reference.ts';
import {
  avgPoolGrad, convGradInput, convUpdate, count, dwGradInput, fcGradInput, fcUpdate, meanGrad, randomConvShape, softmaxXent,
  type ConvGeometry, type Dims, type PoolGeometry,
} from './train_reference.ts';
import { SOFT_FLOAT } from '../helpers/soft_float.ts';

const FIRMWARE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../firmware');
const KERNELS = ['grad_i16', 'grad_i8'];
let harness: KernelHarness;
beforeAll(() => { harness = buildKernelHarness('grad_int', KERNELS, ['-Wdouble-promotion', '-Wfloat-conversion']); });
afterAll(() => harness?.cleanup());

const f = Math.fround;
const OP = { loss: 1, copy: 2, convGi: 3, dwGi: 4, fcGi: 5, poolGi: 6, meanGi: 7, bias: 8, convUpdate: 9, dwUpdate: 10, fcUpdate: 11, padGi: 12 } as const;
const SGD = (s: SgdInt, fct: IntFactors): Token[] => I(s.lrMultiplier, s.lrShift, s.stochastic ? 1 : 0, s.rng | 0, ...fct.multiplier, ...fct.shift);

const run = (cases: Token[][]): number[][] => runTokenCases(harness, cases).map((line) => line.map(Number));
/** Filter scales spanning a factor of up to 30 between channels. */
const gen = (seed: number) => caseDraws(seed, 0x51ed270b, 0.03);

const cosine = (a: number[], b: number[]): number => {
  let ab = 0, aa = 0, bb = 0;
  a.forEach((x, i) => { ab += x * b[i]; aa += x * x; bb += b[i] * b[i]; });
  return aa === 0 && bb === 0 ? 1 : ab / Math.sqrt(aa * bb);
};

/** The loss's parameters for a logit scale, as the SOFTMAX lowering computes them (beta 1). */
function xentParams(scale: number): XentParams {
  const s = preprocessSoftmaxScaling(1, scale, 5)!;
  return { multiplier: s.multiplier, leftShift: s.shift, diffMin: 0 - calculateInputRadius(5, s.shift) };
}

describe('integer-only kernels against their mirrors', () => {
  it('log2 in Q16 is within 2^-15 of log2', () => {
    for (const x of [1, 2, 3, 524288, 524289, 1000000, 2 ** 31 - 1, 123456789]) {
      expect(Math.abs(log2Q16(x) / 65536 - Math.log2(x))).toBeLessThan(2 ** -15);
    }
  });

  for (const bits of [16, 8] as Bits[]) {
    it(`int${bits}: the loss and its gradient, the copy`, () => {
      const { rand, u, narrow } = gen(bits + 1);
      const cases: Token[][] = [];
      const wants: number[][] = [];
      for (let k = 0; k < 40; k++) {
        const n = rand(1, 12), label = rand(-1, n - 1), logits = Array.from({ length: n }, () => rand(-128, 127)), p = xentParams(f(0.02 + u() * 0.3));
        cases.push(I(OP.loss, bits, n, p.multiplier, p.leftShift, p.diffMin, label, ...logits));
        const want = softmaxXentInt(logits, p, label, bits);
        wants.push([want.loss, want.predicted, want.grad.exp, ...want.grad.q]);
      }
      for (let k = 0; k < 30; k++) {
        const n = rand(1, 30), src = narrow(n, bits), dst = narrow(n, bits), acc = rand(0, 1) === 1;
        cases.push([...I(OP.copy, bits, n), ...NT(src), ...I(dst.exp, acc ? 1 : 0, ...dst.q)]);
        const want = gradCopyInt(src, dst, acc, bits);
        wants.push([want.exp, ...want.q]);
      }
      run(cases).forEach((r, i) => expect(r, `case ${i}`).toEqual(wants[i]));
    });

    it(`int${bits}: the input gradients (conv, depthwise, FC, average pool, MEAN, PAD), with and without accumulation; split filters`, () => {
      const { rand, narrow, scales } = gen(bits + 7);
      const cases: Token[][] = [];
      const wants: Narrow[] = [];
      /** A split of `rows` rows of `cols` (the whole filter 0 0 a third of the time): by rows, or by columns. */
      const split = (rows: number, cols: number): number[] => {
        const kind = rand(0, 2);
        return kind === 0 ? [0, 0] : kind === 1 ? [rand(0, rows), cols] : [rows, rand(1, cols)];
      };
      for (let k = 0; k < 120; k++) {
        const kind = k % 6, acc = rand(0, 2) === 0;
        if (kind <= 1) {
          const dw = kind === 1, s = randomConvShape(rand, dw, { filterMax: dw ? 5 : 3 });
          const w = Array.from({ length: count(s.fD) }, () => rand(-127, 127)), sc = fixedScales(scales(s.outD.c));
          const go = narrow(count(s.outD), bits), old = narrow(count(s.inD), bits);
          const variant = dw ? I(s.g.depthMultiplier, 0) : I(...split(s.fD.n, s.fD.h * s.fD.w * s.fD.c));
          cases.push([...I(dw ? OP.dwGi : OP.convGi, bits), ...geometry(s.g), ...variant, ...D(s.inD), ...D(s.fD), ...D(s.outD),
            ...I(...w, ...sc.q, sc.exp), ...NT(go), ...I(old.exp, acc ? 1 : 0, ...old.q)]);
          wants.push(convGradInputInt(s.g, dw, s.inD, s.fD, w, sc, s.outD, go, old, acc, bits));
        } else if (kind === 2) {
          const batches = rand(1, 3), depth = rand(1, 20), outDepth = rand(1, 10);
          const w = Array.from({ length: depth * outDepth }, () => rand(-127, 127)), sc = fixedScales(scales(outDepth));
          const go = narrow(batches * outDepth, bits), old = narrow(batches * depth, bits);
          cases.push([...I(OP.fcGi, bits, batches, depth, outDepth, ...split(outDepth, depth), ...w, ...sc.q, sc.exp), ...NT(go), ...I(old.exp, acc ? 1 : 0, ...old.q)]);
          wants.push(fcGradInputInt(batches, depth, outDepth, w, sc, go, old, acc, bits));
        } else if (kind === 5) {
          const inD = { n: 1, h: rand(1, 5), w: rand(1, 5), c: rand(1, 4) };
          const before = [0, rand(0, 2), rand(0, 2), rand(0, 1)];
          const outD = { n: 1, h: inD.h + before[1] + rand(0, 2), w: inD.w + before[2] + rand(0, 2), c: inD.c + before[3] + rand(0, 1) };
          const go = narrow(count(outD), bits), old = narrow(count(inD), bits);
          cases.push([...I(OP.padGi, bits), ...D(inD), ...D(outD), ...I(...before), ...NT(go), ...I(old.exp, acc ? 1 : 0, ...old.q)]);
          wants.push(padGradInt(inD, outD, before, go, old, acc, bits));
        } else if (kind === 3) {
          const { p, inD, outD } = randomPool(rand);
          const go = narrow(count(outD), bits), old = narrow(count(inD), bits);
          cases.push([...I(OP.poolGi, bits, p.strideH, p.strideW, p.filterH, p.filterW, p.padH, p.padW), ...D(inD), ...D(outD), ...NT(go), ...I(old.exp, acc ? 1 : 0, ...old.q)]);
          wants.push(avgPoolGradInt(p, inD, outD, go, old, acc, bits));
        } else {
          const inD = { n: rand(1, 2), h: rand(1, 6), w: rand(1, 6), c: rand(1, 5) };
          const go = narrow(inD.n * inD.c, bits), old = narrow(count(inD), bits);
          cases.push([...I(OP.meanGi, bits), ...D(inD), ...NT(go), ...I(old.exp, acc ? 1 : 0, ...old.q)]);
          wants.push(meanGradInt(inD, go, old, acc, bits));
        }
      }
      run(cases).forEach((r, i) => expect(r, `case ${i} (kind ${i % 6})`).toEqual([wants[i].exp, ...wants[i].q]));
    });

    it(`int${bits}: the depthwise input gradient in place (stride 1) equals the one out of place`, () => {
      const { rand, narrow, scales } = gen(bits + 11);
      const cases: Token[][] = [];
      const wants: Narrow[] = [];
      for (let k = 0; k < 40; k++) {
        const s = randomConvShape(rand, true, { filterMax: 5, stride1Same: true });
        const w = Array.from({ length: count(s.fD) }, () => rand(-127, 127)), sc = fixedScales(scales(s.outD.c));
        const go = narrow(count(s.outD), bits);
        cases.push([...I(OP.dwGi, bits), ...geometry(s.g), ...I(1, 1), ...D(s.inD), ...D(s.fD), ...D(s.outD),
          ...I(...w, ...sc.q, sc.exp), ...NT(go), ...I(EXP_ZERO, 0, ...go.q)]);
        wants.push(convGradInputInt(s.g, true, s.inD, s.fD, w, sc, s.outD, go, { q: [], exp: EXP_ZERO }, false, bits));
      }
      run(cases).forEach((r, i) => expect(r, `case ${i}`).toEqual([wants[i].exp, ...wants[i].q]));
    });

    it(`int${bits}: the bias and weight updates, rounded to nearest and stochastically`, () => {
      const { rand, u, narrow } = gen(bits + 13);
      const cases: Token[][] = [];
      const wants: number[][] = [];
      const factors = (n: number) => fixedFactors(Array.from({ length: n }, () => 0.5 + 200 * u()));
      for (let k = 0; k < 48; k++) {
        const kind = k % 4, sgd = sgdInt(0.001 + u() * 0.5, rand(0, 1) === 1, rand(1, 2 ** 31));
        const before = { ...sgd };
        if (kind === 0) {
          const outD = { n: rand(1, 2), h: rand(1, 6), w: rand(1, 6), c: rand(1, 6) }, nCh = rand(1, outD.c);
          const bias = Array.from({ length: nCh }, () => rand(-100000, 100000)), fct = fixedFactors(Array.from({ length: nCh }, () => 1e3 + 1e6 * u()));
          const go = { ...narrow(count(outD), bits), exp: rand(-20, -8) };
          cases.push([...I(OP.bias, bits), ...D(outD), ...I(nCh), ...SGD(before, fct), ...I(...bias), ...NT(go)]);
          wants.push([...biasUpdateInt(outD, go, bias, fct, nCh, sgd), sgd.rng]);
        } else if (kind === 3) {
          const batches = rand(1, 3), depth = rand(1, 20), outDepth = rand(1, 8), nCh = rand(1, outDepth);
          const input = Array.from({ length: batches * depth }, () => rand(-128, 127)), w = Array.from({ length: depth * outDepth }, () => rand(-127, 127));
          const offset = rand(-20, 128), fct = factors(nCh), go = { ...narrow(batches * outDepth, bits), exp: rand(-24, -10) };
          cases.push([...I(OP.fcUpdate, bits, batches, depth, outDepth, offset, nCh), ...SGD(before, fct), ...I(...input, ...w), ...NT(go)]);
          wants.push([...fcUpdateInt(batches, depth, outDepth, input, offset, w, fct, nCh, go, sgd), sgd.rng]);
        } else {
          const dw = kind === 2, s = randomConvShape(rand, dw, { filterMax: dw ? 5 : 3 }), nCh = rand(1, s.outD.c);
          const input = Array.from({ length: count(s.inD) }, () => rand(-128, 127)), w = Array.from({ length: count(s.fD) }, () => rand(-127, 127));
          const offset = rand(-20, 128), fct = factors(nCh), go = { ...narrow(count(s.outD), bits), exp: rand(-24, -10) };
          cases.push([...I(dw ? OP.dwUpdate : OP.convUpdate, bits), ...geometry(s.g), ...(dw ? I(s.g.depthMultiplier) : []), ...D(s.inD), ...D(s.fD), ...D(s.outD),
            ...I(offset, nCh), ...SGD(before, fct), ...I(...input, ...w), ...NT(go)]);
          wants.push([...convUpdateInt(s.g, dw, offset, s.inD, input, s.fD, w, fct, nCh, s.outD, go, sgd), sgd.rng]);
        }
      }
      // rows longer than 256 outputs (the weight sums' int64 path), conv and depthwise
      for (const dw of [false, true]) {
        const g: ConvGeometry = { strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, padH: 0, padW: 1, depthMultiplier: 1 };
        const inD = { n: 1, h: 2, w: 300, c: 2 }, fD = { n: dw ? 1 : 2, h: 1, w: 3, c: 2 }, outD = { n: 1, h: 2, w: 300, c: 2 };
        const sgd = sgdInt(0.01, dw), fct = factors(2), offset = 128;
        const input = Array.from({ length: count(inD) }, () => 127), w = Array.from({ length: count(fD) }, () => rand(-127, 127));
        const go: Narrow = { q: Array.from({ length: count(outD) }, () => qmax(bits)), exp: -20 };
        cases.push([...I(dw ? OP.dwUpdate : OP.convUpdate, bits), ...geometry(g), ...(dw ? I(1) : []), ...D(inD), ...D(fD), ...D(outD),
          ...I(offset, 2), ...SGD({ ...sgd }, fct), ...I(...input, ...w), ...NT(go)]);
        wants.push([...convUpdateInt(g, dw, offset, inD, input, fD, w, fct, 2, outD, go, sgd), sgd.rng]);
      }
      run(cases).forEach((r, i) => expect(r, `case ${i} (kind ${i % 4})`).toEqual(wants[i]));
    });
  }
});

function randomPool(rand: (lo: number, hi: number) => number): { p: PoolGeometry; inD: Dims; outD: Dims } {
  const inD = { n: rand(1, 2), h: rand(1, 7), w: rand(1, 7), c: rand(1, 3) };
  const p: PoolGeometry = { strideH: rand(1, 3), strideW: rand(1, 3), filterH: rand(1, 4), filterW: rand(1, 4), padH: 0, padW: 0 };
  p.padH = rand(0, p.filterH - 1);
  p.padW = rand(0, p.filterW - 1);
  const outD = { n: inD.n, h: Math.max(1, Math.floor((inD.h + 2 * p.padH - p.filterH) / p.strideH) + 1), w: Math.max(1, Math.floor((inD.w + 2 * p.padW - p.filterW) / p.strideW) + 1), c: inD.c };
  return { p, inD, outD };
}

describe('int16 integer kernels against the float32 kernels', () => {
  it('give the same gradients (cosine >= 0.99 per kernel over random cases) and the same updates', () => {
    const { rand, u, scales } = gen(99);
    const bits: Bits = 16;
    const full = (n: number): Narrow => ({ q: Array.from({ length: n }, () => rand(-32767, 32767)), exp: rand(-24, -8) });
    const worst = new Map<string, number>();
    const note = (what: string, c: number) => worst.set(what, Math.min(worst.get(what) ?? 1, c));
    for (let k = 0; k < 30; k++) {
      const n = rand(2, 12), label = rand(0, n - 1), logits = Array.from({ length: n }, () => rand(-128, 127)), scale = f(0.02 + u() * 0.3);
      const got = softmaxXentInt(logits, xentParams(scale), label, bits), want = softmaxXent(logits, scale, label);
      note('loss gradient', cosine(dequantize(got.grad), want.grad));
      expect(Math.abs(got.loss / 65536 - want.loss), 'loss').toBeLessThan(2e-3 * (1 + want.loss));
      for (const dw of [false, true]) {
        const s = randomConvShape(rand, dw, { filterMax: dw ? 5 : 3 });
        const w = Array.from({ length: count(s.fD) }, () => rand(-127, 127)), fs = scales(s.outD.c);
        const go = full(count(s.outD)), none: Narrow = { q: [], exp: EXP_ZERO };
        const got2 = convGradInputInt(s.g, dw, s.inD, s.fD, w, fixedScales(fs), s.outD, go, none, false, bits);
        const want2 = (dw ? dwGradInput : convGradInput)(s.g, s.inD, s.fD, w, fs, s.outD, dequantize(go), [], false);
        note(dw ? 'depthwise input gradient' : 'conv input gradient', cosine(dequantize(got2), want2));
      }
      const batches = rand(1, 2), depth = rand(2, 20), outDepth = rand(2, 10), w = Array.from({ length: depth * outDepth }, () => rand(-127, 127)), fs = scales(outDepth);
      const go = full(batches * outDepth);
      note('FC input gradient', cosine(dequantize(fcGradInputInt(batches, depth, outDepth, w, fixedScales(fs), go, { q: [], exp: EXP_ZERO }, false, bits)),
        fcGradInput(batches, depth, outDepth, w, fs, dequantize(go), [], false)));
      const { p, inD, outD } = randomPool(rand);
      const gp = full(count(outD));
      note('average pool gradient', cosine(dequantize(avgPoolGradInt(p, inD, outD, gp, { q: [], exp: EXP_ZERO }, false, bits)), avgPoolGrad(p, inD, outD, dequantize(gp), [], false)));
      const mD = { n: 1, h: rand(1, 6), w: rand(1, 6), c: rand(1, 5) }, gm = full(mD.c);
      note('MEAN gradient', cosine(dequantize(meanGradInt(mD, gm, { q: [], exp: EXP_ZERO }, false, bits)), meanGrad(mD, dequantize(gm), new Array<number>(count(mD)).fill(0), false)));

      // updates: steps of many weight units (rounded to nearest), against the float kernels' steps
      const inScale = f(0.02), gf = Array.from({ length: outDepth }, () => f(50 + 100 * u())), lr = f(0.5);
      const input = Array.from({ length: batches * depth }, () => rand(-128, 127)), offset = rand(-20, 20);
      const gu = { ...full(batches * outDepth), exp: -14 };
      const wi = fcUpdateInt(batches, depth, outDepth, input, offset, w, fixedFactors(gf.map((x) => x * inScale)), outDepth, gu, sgdInt(lr, false));
      const wf = fcUpdate(batches, depth, outDepth, input, inScale, offset, w, gf, outDepth, dequantize(gu), { lr, momentum: 0 }, null).params;
      note('FC weight update (steps)', cosine(w.map((x, i) => x - wi[i]), w.map((x, i) => x - wf[i])));
      const s = randomConvShape(rand, false, { filterMax: 3 }), cw = Array.from({ length: count(s.fD) }, () => rand(-127, 127));
      const cin = Array.from({ length: count(s.inD) }, () => rand(-128, 127)), cg = { ...full(count(s.outD)), exp: -16 }, cgf = Array.from({ length: s.outD.c }, () => f(50 + 100 * u()));
      const ci = convUpdateInt(s.g, false, offset, s.inD, cin, s.fD, cw, fixedFactors(cgf.map((x) => x * inScale)), s.outD.c, s.outD, cg, sgdInt(lr, false));
      const cf = convUpdate(s.g, false, offset, s.inD, cin, inScale, s.fD, cw, cgf, s.outD.c, s.outD, dequantize(cg), { lr, momentum: 0 }, null).params;
      note('conv weight update (steps)', cosine(cw.map((x, i) => x - ci[i]), cw.map((x, i) => x - cf[i])));
    }
    console.log([...worst].map(([what, c]) => `${what}: worst cosine ${c.toFixed(6)}`).join('\n'));
    for (const [what, c] of worst) expect(c, what).toBeGreaterThanOrEqual(0.99);
  });
});

describe('stochastic rounding of the step', () => {
  it('is unbiased: over many draws the mean step is the exact one, where rounding to nearest gives 0', () => {
    // one FC weight row: steps of 0.05 to 0.4 of an int8 step (exact values known), 4,000 draws each
    const depth = 8, input = Array.from({ length: depth }, (_, d) => d + 1), weights = new Array<number>(depth).fill(0);
    const go: Narrow = { q: [1 << 14], exp: -14 }; // dL/dy = 1
    const factor = 0.1; // factor * lr * x[d] = 0.05 * (d + 1) weight steps
    const exact = input.map((x) => factor * 0.5 * x);
    const mean = new Array<number>(depth).fill(0);
    const draws = 4000;
    const sgd = sgdInt(0.5, true, 12345);
    for (let k = 0; k < draws; k++) {
      const w = fcUpdateInt(1, depth, 1, input, 0, weights, fixedFactors([factor]), 1, go, sgd);
      w.forEach((v, d) => { mean[d] += -v / draws; });
    }
    const nearest = fcUpdateInt(1, depth, 1, input, 0, weights, fixedFactors([factor]), 1, go, sgdInt(0.5, false));
    exact.forEach((e, d) => {
      // the mean of 4,000 Bernoulli(e) draws: within 4 standard deviations
      expect(Math.abs(mean[d] - e), `weight ${d}: mean step ${mean[d]} vs ${e}`).toBeLessThan(4 * Math.sqrt((e * (1 - e)) / draws));
      expect(nearest[d]).toBe(e < 0.5 ? 0 : -1);
    });
  });
});

const CC = 'arm-none-eabi-gcc';
const hasCrossCompiler = spawnSync(CC, ['--version']).status === 0;
const hasQemu = spawnSync(process.env.MCUTRAIN_QEMU ?? 'qemu-system-arm', ['--version']).status === 0;
const digests = (text: string): string[] => text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('DIGEST '));

describe.skipIf(!hasCrossCompiler)('integer kernels on cores without an FPU', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-int-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('build for Cortex-M0+ and M3 (soft-float ABI) with no call into the soft-float library', () => {
    for (const cpu of ['cortex-m0plus', 'cortex-m3']) {
      for (const k of KERNELS) {
        const obj = path.join(dir, `${k}-${cpu}.o`);
        const cc = spawnSync(CC, [...STRICT_FLAGS, '-mthumb', `-mcpu=${cpu}`, '-mfloat-abi=soft', '-ffreestanding',
          `-I${path.join(FIRMWARE, 'include')}`, '-c', path.join(FIRMWARE, 'kernels', `${k}.c`), '-o', obj], { encoding: 'utf8' });
        expect(cc.stderr, `${k} for ${cpu}`).toBe('');
        const undefinedSymbols = spawnSync('arm-none-eabi-nm', ['-u', obj], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.trim().split(/\s+/).pop()!).filter(Boolean);
        console.log(`${k}.o for ${cpu}: undefined ${undefinedSymbols.join(', ') || '(none)'}`);
        expect(undefinedSymbols.filter((s) => SOFT_FLOAT.test(s)), `${k} for ${cpu}`).toEqual([]);
        // the helpers it may call are integer ones (division, 64-bit multiply, count leading zeros on the M0+)
        for (const s of undefinedSymbols) expect(s, `${k} for ${cpu}`).toMatch(/^__aeabi_(idiv|idivmod|uidiv|uidivmod|lmul|llsl|llsr|lasr)$|^__clz[sd]i2$/);
      }
    }
    // and the sources hold no float type at all
    for (const file of ['grad_int.inc', 'grad_int_common.h', 'grad_i16.c', 'grad_i8.c', '../include/mcutrain/kernels/train_int.h']) {
      expect(readFileSync(path.join(FIRMWARE, 'kernels', file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, ''), file).not.toMatch(/\b(float|double)\b/);
    }
  });

  it.skipIf(!hasQemu)('give the host\'s digests on the emulated Cortex-M3 (mps2-an385), from an image without soft-float routines', async () => {
    const board = path.join(dir, 'an385');
    writeMps2Project(board, loadMps2Target('mps2-an385'), { linkServer: false });
    cpSync(path.join(FIRMWARE, 'kernels'), path.join(board, 'runtime', 'kernels'), { recursive: true });
    mkdirSync(path.join(board, 'runtime', 'test'), { recursive: true });
    for (const f of ['kernel_test_grad_int.c', 'digest.h', 'grad_case_io.h']) cpSync(path.join(FIRMWARE, 'test', f), path.join(board, 'runtime', 'test', f));
    const built = await makeFirmware(board, 'runtime/test/kernel_test_grad_int.c');
    expect(built.ok, built.log).toBe(true);
    const symbols = spawnSync('arm-none-eabi-nm', [built.elf], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.trim().split(/\s+/).pop() ?? '');
    expect(symbols).toContain('mt_conv_update_weights_s8_i16');
    expect(symbols.filter((s) => SOFT_FLOAT.test(s))).toEqual([]);
    const run = await runHarnessOnBoard('mps2-an385', built.elf, []);
    expect(run.code, `${run.output}\n${run.qemu}`).toBe(0);
    expect(run.output).toContain('DONE');
    const host = digests(harness.run(['digest']));
    expect(host).toHaveLength(6);
    expect(digests(run.output)).toEqual(host);
  });
});
