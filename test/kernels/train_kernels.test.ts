/**
 * The training kernels (train.h): every kernel bit for bit against a float32 mirror of its arithmetic
 * in the documented summation order (train_reference.ts) on random shapes, and against float64
 * definitions of the forward operators (adjoint identities), so that a mirror of a wrong algorithm
 * fails too. Plus e^x / ln x accuracy, the loss against float64 log-sum-exp, a Cortex-M7 build that
 * must not pull in libm or double arithmetic, and the determinism itself: a fixed battery of every
 * kernel (the harness's "digest" mode) gives the same output bits at every optimization level and on
 * the emulated Cortex-M7 board (mps2-an500, hard float) as on the host.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qemuBoardOf, startQemu } from '../../src/emulate/qemu.ts';
import { seededUniform } from '../../src/util/random.ts';
import { loadMps2Target, makeFirmware, writeMps2Project } from '../emulate/mps2_firmware.ts';
import { buildKernelHarness, seededInts, STRICT_FLAGS, type KernelHarness } from './c_harness.ts';
import {
  avgPoolForward64, avgPoolGrad, biasUpdate, bitsOf, convForward64, convGradInput, convUpdate, count, dot, dwGradInput,
  expf, f32OfBits, fcForward64, fcGradInput, fcUpdate, logf, meanForward64, meanGrad, padForward64, padGrad,
  randomConvShape, softmaxXent, type ConvGeometry, type Dims, type PoolGeometry, type Sgd,
} from './train_reference.ts';

const FIRMWARE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../firmware');
const KERNELS = ['train_loss', 'conv_backward', 'depthwise_conv_backward', 'fully_connected_backward', 'pool_backward', 'bias_update'];
/** The float rules every build of these kernels follows: no contraction into FMA, no silent double. */
const FLOAT_FLAGS = ['-ffp-contract=off', '-Wdouble-promotion'];
const f = Math.fround;

const OP = {
  exp: 1, log: 2, softmax: 3, clampMask: 4, gradCopy: 5, convGradInput: 6, dwGradInput: 7, fcGradInput: 8,
  avgPoolGrad: 9, meanGrad: 10, padGrad: 11, biasUpdate: 12, convUpdate: 13, dwUpdate: 14, fcUpdate: 15, clampMaskProjected: 16,
} as const;

let harness: KernelHarness;
beforeAll(() => { harness = buildKernelHarness('train', KERNELS, FLOAT_FLAGS); });
afterAll(() => harness?.cleanup());

// ---- case encoding: integers in decimal, floats as the hex of their bits ----

type Token = string;
const I = (...v: number[]): Token[] => v.map((x) => String(x));
const F = (...v: number[]): Token[] => v.map((x) => bitsOf(x).toString(16));
const D = (d: Dims): Token[] => I(d.n, d.h, d.w, d.c);

class Reader {
  private i = 0;
  constructor(private readonly t: string[]) {}
  int(): number { return Number(this.t[this.i++]); }
  ints(n: number): number[] { return Array.from({ length: n }, () => this.int()); }
  bits(n: number): number[] { return Array.from({ length: n }, () => parseInt(this.t[this.i++], 16)); }
  done(): boolean { return this.i === this.t.length; }
}

/** Runs the cases in one process; one Reader per case. */
function run(cases: Token[][]): Reader[] {
  const input = [String(cases.length), ...cases.map((c) => c.join(' '))].join('\n') + '\n';
  const lines = harness.run(['run'], input).split('\n').slice(0, cases.length);
  expect(lines).toHaveLength(cases.length);
  return lines.map((l) => new Reader(l.trim() === '' ? [] : l.trim().split(/\s+/)));
}

const bitsOfAll = (a: number[]): number[] => a.map(bitsOf);

// ---- random data ----

function generators(seed: number) {
  const rand = seededInts(seed);
  const u = seededUniform(seed ^ 0x5bd1e995);
  const real = (mag: number): number => f((2 * u() - 1) * mag);
  const reals = (n: number, mag: number): number[] => Array.from({ length: n }, () => real(mag));
  const ints = (n: number, lo: number, hi: number): number[] => Array.from({ length: n }, () => rand(lo, hi));
  const positive = (lo: number, hi: number): number => f(lo * Math.pow(hi / lo, u())); // log-uniform
  return { rand, u, real, reals, ints, positive };
}

const geometryTokens = (g: ConvGeometry): Token[] => I(g.strideH, g.strideW, g.dilationH, g.dilationW, g.padH, g.padW);

const abs = (a: number[]): number[] => a.map(Math.abs);

/**
 * The adjoint identity <grad_out, forward(x)> == <grad_in, x> in float64, within float32 rounding of
 * every term the kernel added: bound = <|grad_out|, forward_abs(|x|)> (forward_abs: the forward map
 * with |weights|), plus <|old|, |x|> when the kernel added onto an old grad_in.
 */
function expectAdjoint(what: string, gradOut: number[], forward: (x: number[]) => number[], forwardAbs: (x: number[]) => number[],
  got: number[], old: number[], accumulate: boolean, x: number[]): void {
  const gradIn = got.map((v, i) => (accumulate ? v - old[i] : v));
  const lhs = dot(gradOut, forward(x)).value, rhs = dot(gradIn, x).value;
  const bound = dot(abs(gradOut), forwardAbs(abs(x))).value + (accumulate ? dot(abs(old), abs(x)).value : 0);
  expect(Math.abs(lhs - rhs), `${what}: ${lhs} vs ${rhs}`).toBeLessThanOrEqual(1e-5 * bound + 1e-30);
}

/** One random update-kernel case: how to encode it with a given SGD setting, its mirror, and <grad_out, forward(x; V)> in float64. */
interface UpdateCase {
  weights: number[]; gradFactor: number[]; nChannels: number; perChannel: number;
  tokens: (gradFactor: number[], sgd: Sgd, hasMomentum: boolean, momentum: number[]) => Token[];
  mirror: (sgd: Sgd, momentum: number[] | null) => { params: number[]; momentum: number[] };
  /** Where parameter j of trained channel oc lives in the weights and in the momentum buffer. */
  weightIndex: (oc: number, j: number) => number;
  momentumIndex: (oc: number, j: number) => number;
  /** <grad_out, forward(x; v)> in float64, or with every operand taken absolute (the rounding bound). */
  inner: (v: number[], absolute: boolean) => number;
}

type Gen = ReturnType<typeof generators>;

/** Weights with about a sixth of them within 2 of +-127, so that steps hit the clamp. */
function nearClampWeights(rand: Gen['rand'], ints: Gen['ints'], n: number): number[] {
  return ints(n, -127, 127).map((w) => (rand(0, 5) === 0 ? (rand(0, 1) ? 127 - rand(0, 2) : -127 + rand(0, 2)) : w));
}

function fcUpdateCase(rand: Gen['rand'], ints: Gen['ints'], reals: Gen['reals'], positive: Gen['positive'], inputScale: number, inputOffset: number): UpdateCase {
  const batches = rand(1, 3), depth = rand(1, 30), outDepth = rand(1, 10), nChannels = rand(1, outDepth);
  const input = ints(batches * depth, -128, 127), weights = nearClampWeights(rand, ints, depth * outDepth);
  const gradFactor = Array.from({ length: nChannels }, () => positive(0.5, 200)), gradOut = reals(batches * outDepth, 1);
  const x = input.map((q) => inputScale * (q + inputOffset));
  return {
    weights, gradFactor, nChannels, perChannel: depth,
    tokens: (gf, sgd, hasM, mom) => [...I(OP.fcUpdate, batches, depth, outDepth), ...F(inputScale), ...I(inputOffset, nChannels),
      ...F(sgd.lr, sgd.momentum), ...I(hasM ? 1 : 0, ...input, ...weights), ...F(...gf, ...mom, ...gradOut)],
    mirror: (sgd, mom) => fcUpdate(batches, depth, outDepth, input, inputScale, inputOffset, weights, gradFactor, nChannels, gradOut, sgd, mom),
    weightIndex: (oc, j) => oc * depth + j,
    momentumIndex: (oc, j) => oc * depth + j,
    inner: (v, a) => (a ? dot(abs(gradOut), fcForward64(batches, depth, outDepth, abs(x), abs(v))) : dot(gradOut, fcForward64(batches, depth, outDepth, x, v))).value,
  };
}

function convUpdateCase(depthwise: boolean, rand: Gen['rand'], ints: Gen['ints'], reals: Gen['reals'], positive: Gen['positive'], inputScale: number, inputOffset: number): UpdateCase {
  const s = randomConvShape(rand, depthwise);
  const nChannels = rand(1, s.outD.c), perChannel = depthwise ? s.fD.h * s.fD.w : s.fD.h * s.fD.w * s.fD.c;
  const input = ints(count(s.inD), -128, 127), weights = nearClampWeights(rand, ints, count(s.fD));
  const gradFactor = Array.from({ length: nChannels }, () => positive(0.5, 200)), gradOut = reals(count(s.outD), 1);
  const x = input.map((q) => inputScale * (q + inputOffset));
  return {
    weights, gradFactor, nChannels, perChannel,
    tokens: (gf, sgd, hasM, mom) => [
      ...I(depthwise ? OP.dwUpdate : OP.convUpdate), ...geometryTokens(s.g), ...(depthwise ? I(s.g.depthMultiplier) : []),
      ...I(inputOffset), ...D(s.inD), ...D(s.fD), ...D(s.outD), ...F(inputScale), ...I(nChannels), ...F(sgd.lr, sgd.momentum),
      ...I(hasM ? 1 : 0, ...input, ...weights), ...F(...gf, ...mom, ...gradOut)],
    mirror: (sgd, mom) => convUpdate(s.g, depthwise, inputOffset, s.inD, input, inputScale, s.fD, weights, gradFactor, nChannels, s.outD, gradOut, sgd, mom),
    // OHWI: channel-major; 1HWC: tap j = fy * w + fx strides over all channels, the buffer [h][w][n_channels]
    weightIndex: (oc, j) => (depthwise ? j * s.fD.c + oc : oc * perChannel + j),
    momentumIndex: (oc, j) => (depthwise ? j * nChannels + oc : oc * perChannel + j),
    inner: (v, a) => (a ? dot(abs(gradOut), convForward64(s.g, depthwise, s.inD, abs(x), s.fD, abs(v), s.outD))
      : dot(gradOut, convForward64(s.g, depthwise, s.inD, x, s.fD, v, s.outD))).value,
  };
}

describe('training kernels', () => {
  it('pass their hand-worked examples and property checks (ASan/UBSan clean)', () => {
    expect(harness.run([])).toContain('PASS train');
  });

  it('mt_expf and mt_logf: bit-exact with the mirror, within 4e-7 of Math.exp / Math.log', () => {
    const { u } = generators(11);
    const xs: number[] = [0, -0, 1, -1, 0.5, 88, -87, 87.9, -86.9, 0.34657359, -0.34657359].map(f);
    for (let i = 0; i <= 20000; ++i) xs.push(f(-87 + (175 * i) / 20000));
    for (let i = 0; i < 5000; ++i) xs.push(f((2 * u() - 1) * 1e-3));
    const ls: number[] = [1, 2, 0.5, 1 + 2 ** -23, 1 - 2 ** -24, 1e-45, 1e-40, 1.1754944e-38, 3.4e38, Math.SQRT2, Math.SQRT1_2].map(f);
    for (let i = 0; i < 20000; ++i) ls.push(f(Math.pow(2, -149 + 277 * u())));
    for (let i = 0; i < 5000; ++i) ls.push(f(1 + (2 * u() - 1) * 0.3));
    const chunked = (op: number, a: number[]): number[] => {
      const chunks: number[][] = [];
      for (let i = 0; i < a.length; i += 8192) chunks.push(a.slice(i, i + 8192));
      return run(chunks.map((ch) => [...I(op, ch.length), ...F(...ch)])).flatMap((r, i) => r.bits(chunks[i].length));
    };
    const e = chunked(OP.exp, xs), l = chunked(OP.log, ls);
    expect(e).toEqual(xs.map((x) => bitsOf(expf(x))));
    expect(l).toEqual(ls.map((x) => bitsOf(logf(x))));
    const worst = { exp: 0, expAt: 0, log: 0, logAt: 0 };
    xs.forEach((x, i) => {
      const err = Math.abs(f32OfBits(e[i]) - Math.exp(x)) / Math.exp(x);
      if (err > worst.exp) Object.assign(worst, { exp: err, expAt: x });
    });
    ls.forEach((x, i) => {
      const want = Math.log(x);
      if (want === 0) expect(f32OfBits(l[i])).toBe(0);
      const err = Math.abs(f32OfBits(l[i]) - want) / Math.abs(want);
      if (want !== 0 && err > worst.log) Object.assign(worst, { log: err, logAt: x });
    });
    expect(worst.exp, `mt_expf(${worst.expAt})`).toBeLessThan(4e-7);
    expect(worst.log, `mt_logf(${worst.logAt})`).toBeLessThan(4e-7);
    // the edges: clamped overflow stays finite, underflow is 0, ln of x <= 0 is -1e30
    const [edges] = run([[...I(OP.exp, 3), ...F(100, -100, -87.5)]]);
    const [big, zero, tiny] = edges.bits(3).map(f32OfBits);
    expect(Number.isFinite(big) && big > 1e38).toBe(true);
    expect(zero).toBe(0);
    expect(tiny).toBe(0);
    const [logEdges] = run([[...I(OP.log, 3), ...F(0, -1, Infinity)]]);
    expect(logEdges.bits(3).map(f32OfBits)).toEqual([f(-1e30), f(-1e30), Infinity]);
  });

  it('mt_softmax_xent_s8: bit-exact with the mirror; loss = float64 log-sum-exp, gradient sums to 0, argmax', () => {
    const { rand, positive } = generators(12);
    const cases = Array.from({ length: 300 }, (_, k) => {
      const n = rand(1, 24);
      // some cases with a tie for the maximum, some with huge logit spreads (softmax of 0 and 1)
      const logits = Array.from({ length: n }, () => rand(-128, 127));
      if (k % 7 === 0 && n > 2) logits[n - 1] = logits[0] = Math.max(...logits);
      return { n, logits, scale: positive(0.005, 2), zeroPoint: rand(-128, 127), label: rand(0, n - 1), withGrad: k % 5 !== 4 };
    });
    const out = run(cases.map((c) => [...I(OP.softmax, c.n), ...F(c.scale), ...I(c.zeroPoint, c.label, c.withGrad ? 1 : 0, ...c.logits)]));
    cases.forEach((c, k) => {
      const want = softmaxXent(c.logits, c.scale, c.label);
      const r = out[k];
      const [lossBits] = r.bits(1);
      const predicted = r.int();
      expect(lossBits, `case ${k} loss`).toBe(bitsOf(want.loss));
      expect(predicted).toBe(want.predicted);
      expect(predicted).toBe(c.logits.indexOf(Math.max(...c.logits)));
      if (c.withGrad) expect(r.bits(c.n), `case ${k} grad`).toEqual(bitsOfAll(want.grad));
      expect(r.done()).toBe(true);
      // float64 definition: loss = log(sum exp z) - z_label; a float32 sum of values near 1 can only
      // resolve ~6e-8, hence the absolute floor for near-zero losses
      const z = c.logits.map((q) => c.scale * (q - c.zeroPoint));
      const zMax = Math.max(...z);
      const lse = zMax + Math.log(z.reduce((s, v) => s + Math.exp(v - zMax), 0));
      const loss64 = lse - z[c.label];
      const loss = f32OfBits(lossBits);
      expect(Math.abs(loss - loss64), `case ${k}: ${loss} vs ${loss64}`).toBeLessThanOrEqual(1e-5 * loss64 + 3e-7);
      if (c.withGrad) {
        const sum = want.grad.reduce((s, v) => s + v, 0);
        expect(Math.abs(sum)).toBeLessThan(1e-6 * c.n);
        want.grad.forEach((gv, i) => expect(Math.abs(gv - (Math.exp(z[i] - lse) - (i === c.label ? 1 : 0)))).toBeLessThan(1e-6));
      }
    });
  });

  it('mt_clamp_mask_f32 and mt_grad_copy_f32', () => {
    const { rand, reals, ints } = generators(13);
    const masks = Array.from({ length: 30 }, () => {
      const n = rand(1, 50), actMin = rand(-128, 0), actMax = rand(1, 127);
      return { n, actMin, actMax, out: ints(n, actMin, actMax), grad: reals(n, 1) };
    });
    const copies = Array.from({ length: 30 }, (_, k) => {
      const n = rand(1, 50);
      return { n, accumulate: k % 2, same: k % 4 < 2 ? 0 : 1 - (k % 2), src: reals(n, 1), dst: reals(n, 1) };
    });
    const out = run([
      ...masks.map((m) => [...I(OP.clampMask, m.n, m.actMin, m.actMax, ...m.out), ...F(...m.grad)]),
      ...copies.map((c) => [...I(OP.gradCopy, c.n, c.accumulate, c.same), ...F(...c.src, ...c.dst)]),
      ...masks.map((m) => [...I(OP.clampMaskProjected, m.n, m.actMin, m.actMax, ...m.out), ...F(...m.grad)]),
    ]);
    // The projected mask (the logits): only a gradient that would push a saturated value further out is zeroed.
    let passedBack = 0;
    masks.forEach((m, k) => {
      const want = m.grad.map((g, i) => ((m.out[i] === m.actMin && g > 0) || (m.out[i] === m.actMax && g < 0) ? 0 : g));
      passedBack += m.grad.filter((g, i) => (m.out[i] === m.actMin && g < 0) || (m.out[i] === m.actMax && g > 0)).length;
      expect(out[masks.length + copies.length + k].bits(m.n)).toEqual(bitsOfAll(want));
    });
    expect(passedBack).toBeGreaterThan(3);
    let masked = 0;
    masks.forEach((m, k) => {
      const want = m.grad.map((g, i) => (m.out[i] === m.actMin || m.out[i] === m.actMax ? 0 : g));
      masked += want.filter((g) => g === 0).length;
      expect(out[k].bits(m.n)).toEqual(bitsOfAll(want));
    });
    expect(masked).toBeGreaterThan(10);
    copies.forEach((c, k) => {
      const src = c.same ? c.dst : c.src;
      const want = c.accumulate ? c.dst.map((d, i) => f(d + src[i])) : src;
      expect(out[masks.length + k].bits(c.n)).toEqual(bitsOfAll(want));
    });
  });

  for (const depthwise of [false, true]) {
    const name = depthwise ? 'mt_depthwise_conv_grad_input_f32' : 'mt_conv_grad_input_f32';
    it(`${name}: bit-exact with the mirror, adjoint of the float64 forward ${depthwise ? 'depthwise ' : ''}conv`, () => {
      const { rand, reals, ints, positive } = generators(depthwise ? 22 : 21);
      const cases = Array.from({ length: 150 }, (_, k) => {
        const s = randomConvShape(rand, depthwise);
        return { ...s, accumulate: k % 3 === 2, filter: ints(count(s.fD), -127, 127), scale: Array.from({ length: s.outD.c }, () => positive(1e-4, 0.05)),
          gradOut: reals(count(s.outD), 1), gradIn: reals(count(s.inD), 1) };
      });
      const out = run(cases.map((c) => [
        ...I(depthwise ? OP.dwGradInput : OP.convGradInput), ...geometryTokens(c.g), ...(depthwise ? I(c.g.depthMultiplier) : []),
        ...D(c.inD), ...D(c.fD), ...D(c.outD), ...I(c.accumulate ? 1 : 0, ...c.filter), ...F(...c.scale, ...c.gradOut, ...c.gradIn)]));
      const seen = { stride2: 0, dilation2: 0, padded: 0, dm2: 0, batch2: 0 };
      cases.forEach((c, k) => {
        const mirror = (depthwise ? dwGradInput : convGradInput)(c.g, c.inD, c.fD, c.filter, c.scale, c.outD, c.gradOut, c.gradIn, c.accumulate);
        const got = out[k].bits(count(c.inD));
        expect(got, `case ${k}`).toEqual(bitsOfAll(mirror));
        // <grad_out, W x> == <grad_in, x> for the real weights W = scale * q (accumulate adds the old grad_in)
        const realW = c.filter.map((q, i) => c.scale[depthwise ? i % c.fD.c : Math.floor(i / (c.fD.h * c.fD.w * c.fD.c))] * q);
        for (let t = 0; t < 2; ++t) {
          expectAdjoint(`case ${k}`, c.gradOut, (x) => convForward64(c.g, depthwise, c.inD, x, c.fD, realW, c.outD),
            (x) => convForward64(c.g, depthwise, c.inD, x, c.fD, abs(realW), c.outD), got.map(f32OfBits), c.gradIn, c.accumulate, reals(count(c.inD), 1));
        }
        seen.stride2 += +(c.g.strideH === 2 || c.g.strideW === 2);
        seen.dilation2 += +(c.g.dilationH === 2 || c.g.dilationW === 2);
        seen.padded += +(c.g.padH > 0 || c.g.padW > 0);
        seen.dm2 += +(c.g.depthMultiplier === 2);
        seen.batch2 += +(c.inD.n === 2);
      });
      for (const [k, v] of Object.entries(seen)) if (depthwise || k !== 'dm2') expect(v, k).toBeGreaterThan(10);
    });
  }

  it('mt_fully_connected_grad_input_f32: bit-exact with the mirror, adjoint of the float64 forward', () => {
    const { rand, reals, ints, positive } = generators(23);
    const cases = Array.from({ length: 100 }, (_, k) => {
      const batches = rand(1, 3), depth = rand(1, 40), outDepth = rand(1, 12);
      return { batches, depth, outDepth, accumulate: k % 3 === 2, weights: ints(depth * outDepth, -127, 127),
        scale: Array.from({ length: outDepth }, () => positive(1e-4, 0.05)), gradOut: reals(batches * outDepth, 1), gradIn: reals(batches * depth, 1) };
    });
    const out = run(cases.map((c) => [...I(OP.fcGradInput, c.batches, c.depth, c.outDepth, c.accumulate ? 1 : 0, ...c.weights),
      ...F(...c.scale, ...c.gradOut, ...c.gradIn)]));
    cases.forEach((c, k) => {
      const got = out[k].bits(c.batches * c.depth);
      expect(got, `case ${k}`).toEqual(bitsOfAll(fcGradInput(c.batches, c.depth, c.outDepth, c.weights, c.scale, c.gradOut, c.gradIn, c.accumulate)));
      const realW = c.weights.map((q, i) => c.scale[Math.floor(i / c.depth)] * q);
      expectAdjoint(`case ${k}`, c.gradOut, (x) => fcForward64(c.batches, c.depth, c.outDepth, x, realW),
        (x) => fcForward64(c.batches, c.depth, c.outDepth, x, abs(realW)), got.map(f32OfBits), c.gradIn, c.accumulate, reals(c.batches * c.depth, 1));
    });
  });

  it('mt_avg_pool_grad_f32, mt_mean_hw_grad_f32, mt_pad_grad_f32: bit-exact with the mirrors, adjoints of the forwards', () => {
    const { rand, reals } = generators(24);
    const pools = Array.from({ length: 80 }, (_, k) => {
      const inD = { n: rand(1, 2), h: rand(1, 7), w: rand(1, 7), c: rand(1, 3) };
      const p: PoolGeometry = { strideH: rand(1, 2), strideW: rand(1, 2), filterH: rand(1, 3), filterW: rand(1, 3), padH: 0, padW: 0 };
      let outH = Math.ceil(inD.h / p.strideH), outW = Math.ceil(inD.w / p.strideW); // SAME
      if (k % 2 === 0 && inD.h >= p.filterH && inD.w >= p.filterW) {
        outH = Math.floor((inD.h - p.filterH) / p.strideH) + 1; outW = Math.floor((inD.w - p.filterW) / p.strideW) + 1; // VALID
      } else {
        p.padH = Math.floor(Math.max((outH - 1) * p.strideH + p.filterH - inD.h, 0) / 2);
        p.padW = Math.floor(Math.max((outW - 1) * p.strideW + p.filterW - inD.w, 0) / 2);
      }
      const outD = { n: inD.n, h: outH, w: outW, c: inD.c };
      return { p, inD, outD, accumulate: k % 3 === 2, gradOut: reals(count(outD), 1), gradIn: reals(count(inD), 1) };
    });
    const means = Array.from({ length: 30 }, (_, k) => {
      const inD = { n: rand(1, 2), h: rand(1, 7), w: rand(1, 7), c: rand(1, 5) };
      return { inD, accumulate: k % 2 === 1, gradOut: reals(inD.n * inD.c, 1), gradIn: reals(count(inD), 1) };
    });
    const pads = Array.from({ length: 30 }, (_, k) => {
      const inD = { n: rand(1, 2), h: rand(1, 5), w: rand(1, 5), c: rand(1, 4) };
      const before = [rand(0, 1), rand(0, 2), rand(0, 2), rand(0, 2)];
      const outD = { n: inD.n + before[0] + rand(0, 1), h: inD.h + before[1] + rand(0, 2), w: inD.w + before[2] + rand(0, 2), c: inD.c + before[3] + rand(0, 2) };
      return { inD, outD, before, accumulate: k % 2 === 1, gradOut: reals(count(outD), 1), gradIn: reals(count(inD), 1) };
    });
    const out = run([
      ...pools.map((c) => [...I(OP.avgPoolGrad, c.p.strideH, c.p.strideW, c.p.filterH, c.p.filterW, c.p.padH, c.p.padW),
        ...D(c.inD), ...D(c.outD), ...I(c.accumulate ? 1 : 0), ...F(...c.gradOut, ...c.gradIn)]),
      ...means.map((c) => [...I(OP.meanGrad), ...D(c.inD), ...I(c.accumulate ? 1 : 0), ...F(...c.gradOut, ...c.gradIn)]),
      ...pads.map((c) => [...I(OP.padGrad), ...D(c.inD), ...D(c.outD), ...I(...c.before, c.accumulate ? 1 : 0), ...F(...c.gradOut, ...c.gradIn)]),
    ]);
    const check = (k: number, n: number, mirror: number[], old: number[], accumulate: boolean, forward: (x: number[]) => number[], gradOut: number[]) => {
      const got = out[k].bits(n);
      expect(got, `case ${k}`).toEqual(bitsOfAll(mirror));
      // the forwards have non-negative weights: forward_abs = forward
      expectAdjoint(`case ${k}`, gradOut, forward, forward, got.map(f32OfBits), old, accumulate, reals(n, 1));
    };
    pools.forEach((c, k) => check(k, count(c.inD), avgPoolGrad(c.p, c.inD, c.outD, c.gradOut, c.gradIn, c.accumulate), c.gradIn, c.accumulate,
      (x) => avgPoolForward64(c.p, c.inD, x, c.outD), c.gradOut));
    means.forEach((c, k) => check(pools.length + k, count(c.inD), meanGrad(c.inD, c.gradOut, c.gradIn, c.accumulate), c.gradIn, c.accumulate,
      (x) => meanForward64(c.inD, x), c.gradOut));
    pads.forEach((c, k) => check(pools.length + means.length + k, count(c.inD), padGrad(c.inD, c.outD, c.before, c.gradOut, c.gradIn, c.accumulate),
      c.gradIn, c.accumulate, (x) => padForward64(c.inD, c.outD, c.before, x), c.gradOut));
  });

  it('mt_bias_update_s32: bit-exact with the mirror, with and without momentum, saturating near the int32 limits', () => {
    const { rand, reals, positive, u } = generators(25);
    const cases = Array.from({ length: 120 }, (_, k) => {
      const outD = { n: rand(1, 2), h: rand(1, 4), w: rand(1, 4), c: rand(1, 8) };
      const nChannels = rand(1, outD.c);
      const near = k % 4; // 0: ordinary, 1: near INT32_MAX, 2: near INT32_MIN, 3: huge steps (beyond the 2^30 limit)
      const bias = Array.from({ length: outD.c }, () => (near === 1 ? 2 ** 31 - 1 - rand(0, 3000) : near === 2 ? -(2 ** 31) + rand(0, 3000) : rand(-100000, 100000)));
      const sgd: Sgd = { lr: positive(0.01, 2), momentum: k % 3 === 0 ? 0 : f(0.5 + 0.49 * u()) };
      const factor = near === 3 ? [1e9, 1e12] : near === 0 ? [1, 1e3] : [1e3, 1e5];
      return { outD, nChannels, sgd, hasMomentum: k % 3 !== 2, bias, gradFactor: Array.from({ length: nChannels }, () => positive(factor[0], factor[1])),
        momentum: reals(nChannels, 100), gradOut: reals(count(outD), 1) };
    });
    const out = run(cases.map((c) => [...I(OP.biasUpdate), ...D(c.outD), ...I(c.nChannels), ...F(c.sgd.lr, c.sgd.momentum), ...I(c.hasMomentum ? 1 : 0),
      ...I(...c.bias), ...F(...c.gradFactor, ...c.momentum, ...c.gradOut)]));
    let saturated = 0;
    cases.forEach((c, k) => {
      const want = biasUpdate(c.outD, c.gradOut, c.bias, c.gradFactor, c.nChannels, c.sgd, c.hasMomentum ? c.momentum : null);
      expect(out[k].ints(c.outD.c), `case ${k}`).toEqual(want.params);
      expect(out[k].bits(c.nChannels), `case ${k} momentum`).toEqual(bitsOfAll(c.hasMomentum && c.sgd.momentum !== 0 ? want.momentum : c.momentum));
      saturated += want.params.filter((b) => b === 2 ** 31 - 1 || b === -(2 ** 31)).length;
      for (let ch = c.nChannels; ch < c.outD.c; ++ch) expect(want.params[ch]).toBe(c.bias[ch]);
    });
    expect(saturated).toBeGreaterThan(10);
  });

  for (const kind of ['conv', 'depthwise', 'fc'] as const) {
    it(`mt_${kind === 'fc' ? 'fully_connected' : kind === 'conv' ? 'conv' : 'depthwise_conv'}_update_weights_s8: bit-exact with the mirror; its gradient is the float64 dL/dW`, () => {
      const { rand, reals, ints, positive, u } = generators(kind === 'conv' ? 31 : kind === 'depthwise' ? 32 : 33);
      const cases: { c: UpdateCase; sgd: Sgd; hasMomentum: boolean; momentum: number[]; tokens: Token[]; gradCheck: Token[] }[] = [];
      for (let k = 0; k < 120; ++k) {
        const inputScale = positive(0.005, 0.05), inputOffset = rand(-127, 128);
        const c = kind === 'fc' ? fcUpdateCase(rand, ints, reals, positive, inputScale, inputOffset)
          : convUpdateCase(kind === 'depthwise', rand, ints, reals, positive, inputScale, inputOffset);
        const sgd: Sgd = { lr: positive(0.001, 0.5), momentum: k % 3 === 0 ? 0 : f(0.5 + 0.49 * u()) };
        const hasMomentum = k % 3 !== 2;
        const momentum = reals(c.nChannels * c.perChannel, 50);
        const tokens = c.tokens(c.gradFactor, sgd, hasMomentum, momentum);
        // the gradient itself: lr 0 and momentum 1 from a zero buffer leave g (grad_factor 1) in the buffer
        const gradCheck = c.tokens(new Array<number>(c.nChannels).fill(1), { lr: 0, momentum: 1 }, true, new Array<number>(c.nChannels * c.perChannel).fill(0));
        cases.push({ c, sgd, hasMomentum, momentum, tokens, gradCheck });
      }
      const out = run(cases.flatMap((k) => [k.tokens, k.gradCheck]));
      let clamped = 0, changed = 0;
      cases.forEach(({ c, sgd, hasMomentum, momentum }, k) => {
        const want = c.mirror(sgd, hasMomentum ? momentum : null);
        const r = out[2 * k];
        const got = r.ints(c.weights.length);
        expect(got, `case ${k}`).toEqual(want.params);
        expect(r.bits(c.nChannels * c.perChannel), `case ${k} momentum`).toEqual(bitsOfAll(hasMomentum && sgd.momentum !== 0 ? want.momentum : momentum));
        got.forEach((w, i) => { if (w !== c.weights[i]) { ++changed; if (Math.abs(w) === 127) ++clamped; } });
        // the untouched weights: lr 0 changes nothing; the buffer holds dL/dW_real of the trained channels
        const g = out[2 * k + 1];
        expect(g.ints(c.weights.length)).toEqual(c.weights);
        const grad = g.bits(c.nChannels * c.perChannel).map(f32OfBits);
        // <dL/dW, V> == <grad_out, forward(x; V)> for a random V restricted to the trained channels
        const v = new Array<number>(c.weights.length).fill(0);
        let lhs = 0;
        for (let oc = 0; oc < c.nChannels; ++oc)
          for (let j = 0; j < c.perChannel; ++j) {
            const r2 = 2 * u() - 1;
            const mi = c.momentumIndex(oc, j);
            v[c.weightIndex(oc, j)] = r2;
            lhs += grad[mi] * r2;
          }
        expect(Math.abs(lhs - c.inner(v, false)), `case ${k} gradient`).toBeLessThanOrEqual(1e-5 * c.inner(v, true) + 1e-30);
      });
      expect(changed).toBeGreaterThan(100);
      expect(clamped).toBeGreaterThan(10);
    });
  }

  const cross = 'arm-none-eabi-gcc';
  const hasCross = spawnSync(cross, ['--version']).status === 0;
  it.skipIf(!hasCross)('every training kernel builds for Cortex-M7 (FPU) and M0+ without libm or double arithmetic', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-train-arm-'));
    try {
      const targets = [['-mthumb', '-mcpu=cortex-m7', '-mfpu=fpv5-d16', '-mfloat-abi=hard'], ['-mthumb', '-mcpu=cortex-m0plus']];
      for (const kernel of KERNELS) {
        for (const target of targets) {
          const obj = path.join(dir, `${kernel}.o`);
          const cc = spawnSync(cross, [...target, ...STRICT_FLAGS, ...FLOAT_FLAGS, `-I${path.join(FIRMWARE, 'include')}`,
            '-c', path.join(FIRMWARE, 'kernels', `${kernel}.c`), '-o', obj], { encoding: 'utf8' });
          expect(cc.stderr, `${kernel} ${target[1]}`).toBe('');
          expect(cc.status).toBe(0);
          // undefined symbols: no libm (expf, logf, ...), no soft-float double helpers (__aeabi_d*), no FMA
          const undefinedSymbols = spawnSync('arm-none-eabi-nm', ['-u', obj], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.trim().split(/\s+/).pop() ?? '');
          for (const sym of undefinedSymbols) expect(sym, `${kernel} ${target[1]}`).not.toMatch(/^(exp|log|pow|sqrt|fma|round|trunc|floor|ceil)f?$|^__aeabi_d|^__aeabi_[fi]2d/);
          const asm = spawnSync('arm-none-eabi-objdump', ['-d', obj], { encoding: 'utf8' }).stdout;
          expect(asm, `${kernel} ${target[1]}`).not.toMatch(/\bv(fma|fms|fnma|fnms|mla|mls|nmla|nmls)\b|\.f64/);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const hasQemu = spawnSync(process.env.MCUTRAIN_QEMU ?? 'qemu-system-arm', ['--version']).status === 0;
  const digests = (text: string): string[] => text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('DIGEST '));

  it('give the same bits at -O0 and -O3 -march=native (with -ffp-contract=off), ASan build included', () => {
    const reference = digests(harness.run(['digest']));
    expect(reference.length).toBe(7);
    for (const opt of [['-O0'], ['-O3', '-march=native']]) {
      const dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-train-opt-'));
      try {
        const exe = path.join(dir, 'kt');
        const cc = spawnSync('gcc', ['-std=c99', ...opt, '-ffp-contract=off', `-I${path.join(FIRMWARE, 'include')}`,
          path.join(FIRMWARE, 'test', 'kernel_test_train.c'), ...KERNELS.map((k) => path.join(FIRMWARE, 'kernels', `${k}.c`)), '-o', exe], { encoding: 'utf8' });
        expect(cc.status, cc.stderr).toBe(0);
        expect(digests(spawnSync(exe, ['digest'], { encoding: 'utf8' }).stdout), opt.join(' ')).toEqual(reference);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it.skipIf(!hasCross || !hasQemu)('give the host\'s bits on the emulated Cortex-M7 board (mps2-an500, FPv5 hard float)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-train-board-'));
    try {
      const target = loadMps2Target('mps2-an500');
      writeMps2Project(dir, target, { linkServer: false });
      cpSync(path.join(FIRMWARE, 'kernels'), path.join(dir, 'runtime', 'kernels'), { recursive: true });
      mkdirSync(path.join(dir, 'runtime', 'test'), { recursive: true });
      for (const f of ['kernel_test_train.c', 'digest.h']) cpSync(path.join(FIRMWARE, 'test', f), path.join(dir, 'runtime', 'test', f));
      const built = await makeFirmware(dir, 'runtime/test/kernel_test_train.c');
      expect(built.ok, built.log).toBe(true);
      expect(built.log).toContain('-ffp-contract=off');
      const session = await startQemu({ ...qemuBoardOf(target), kernel: built.elf });
      let output = '';
      session.stream.on('data', (chunk: Buffer) => { output += chunk.toString('latin1'); });
      const timer = setTimeout(() => void session.stop(), 540_000); // only a hang: just inside the test budget, so its output is reported
      const exit = await session.exited;
      clearTimeout(timer);
      expect(exit.code, `${output}\n${session.output}`).toBe(0);
      expect(output).toContain('DONE');
      expect(digests(output)).toEqual(digests(harness.run(['digest'])));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
