/**
 * Mirror of the integer-only training kernels (firmware/include/mcutrain/kernels/train_int.h): exact
 * sums as BigInt, the writer's exponent choice, the fixed-point softmax (TFLite Micro's, through
 * softmax_reference.ts), the update step with both roundings and the xorshift32 draws, bit for bit.
 * The compile-time side (a tensor's per-channel scales as 24-bit multipliers with one exponent, a
 * factor as TFLite's multiplier + shift) is the lowering's, re-exported.
 */
import { quantizeMultiplier } from '../../src/lower/quant_params.ts';
import type { IntFactors } from '../../src/train/integer_arith.ts';
import { doublingHighMul, multiplyByQuantizedMultiplier, roundingShiftRight } from './int8_reference.ts';
import { EXP_ZERO, forEachGatherTap, qmax, type Bits, type Narrow } from './grad_narrow_reference.ts';
import { expOfScaledDiffQ0, reciprocalOfQ12 } from './softmax_reference.ts';
import { count, forEachOutputOfTap, forEachPoolTap, off4, type ConvGeometry, type Dims, type PoolGeometry } from './train_reference.ts';

const abs = (v: bigint): bigint => (v < 0n ? -v : v);
const bitlen = (v: bigint): number => (v === 0n ? 0 : abs(v).toString(2).length);

/** v / 2^k rounded half away from zero (mt_gi_shift_round). */
export function shiftRound(v: bigint, k: number): bigint {
  if (k <= 0) return v;
  if (k >= 64) return 0n;
  const r = (abs(v) + (1n << BigInt(k - 1))) >> BigInt(k);
  return v < 0n ? -r : r;
}

export function neededExp(v: bigint, x: number, bits: Bits): number {
  if (v === 0n) return EXP_ZERO;
  return Math.min(127, Math.max(-127, bitlen(v) - 1 + x - (bits - 2)));
}

export function quantize(v: bigint, x: number, exp: number, max: number): number {
  const d = x - exp;
  let q: bigint;
  if (d >= 0) q = d >= 32 || abs(v) > BigInt(max >> d) ? (v < 0n ? -BigInt(max) : BigInt(max)) : v << BigInt(d);
  else q = shiftRound(v, -d);
  const m = BigInt(max);
  return Number(q > m ? m : q < -m ? -m : q);
}

/** a * 2^xa + b * 2^xb within 62 bits (mt_gi_add_aligned). */
export function addAligned(a: bigint, xa: number, b: bigint, xb: number): { v: bigint; x: number } {
  if (a === 0n) return { v: b, x: xb };
  if (b === 0n) return { v: a, x: xa };
  if (xa < xb) [a, xa, b, xb] = [b, xb, a, xa];
  const d = xa - xb, room = 62 - bitlen(a);
  if (d <= room) return { v: (a << BigInt(d)) + b, x: xb };
  return { v: (a << BigInt(room)) + shiftRound(b, d - room), x: xb + d - room };
}

export class IntWriter {
  exp = EXP_ZERO;
  constructor(readonly q: number[], private readonly bits: Bits) {}
  put(i: number, v: bigint, x: number): void {
    const need = neededExp(v, x, this.bits);
    if (need > this.exp) {
      if (this.exp !== EXP_ZERO) for (let j = 0; j < i; ++j) this.q[j] = Number(shiftRound(BigInt(this.q[j]), need - this.exp));
      this.exp = need;
    }
    this.q[i] = this.exp === EXP_ZERO ? 0 : quantize(v, x, this.exp, qmax(this.bits));
  }
}

const termExp = (gradExp: number, scaleExp: number): number => (gradExp === EXP_ZERO ? 0 : gradExp + scaleExp);

/** n elements with values value(i) * 2^x, onto the old ones with accumulate. */
function write(n: number, bits: Bits, x: number, old: Narrow, accumulate: boolean, value: (i: number) => bigint): Narrow {
  const addOld = accumulate && old.exp !== EXP_ZERO;
  const q = old.q.slice(0, n);
  while (q.length < n) q.push(0);
  const w = new IntWriter(q, bits);
  for (let i = 0; i < n; ++i) {
    const v = value(i);
    if (!addOld) w.put(i, v, x);
    else {
      const s = addAligned(BigInt(old.q[i]), old.exp, v, x);
      w.put(i, s.v, s.x);
    }
  }
  return { q, exp: w.exp };
}

// ---- compile-time fixed-point formats ----

// The lowering's own (src/train/integer_arith.ts): the mirror reads the constants the generated code holds.
export { fixedFactors, fixedScales, type IntFactors } from '../../src/train/integer_arith.ts';

export interface SgdInt { lrMultiplier: number; lrShift: number; stochastic: boolean; rng: number }
export function sgdInt(lr: number, stochastic: boolean, seed = 0x2545f491): SgdInt {
  const m = quantizeMultiplier(lr);
  return { lrMultiplier: m.multiplier, lrShift: m.shift, stochastic, rng: seed >>> 0 };
}

// ---- the kernels ----

export function xorshift32(sgd: SgdInt): number {
  let s = sgd.rng;
  s = (s ^ (s << 13)) >>> 0;
  s = (s ^ (s >>> 17)) >>> 0;
  s = (s ^ (s << 5)) >>> 0;
  sgd.rng = s;
  return s;
}

export function log2Q16(x: number): number {
  const ip = 31 - Math.clz32(x);
  let y = ip >= 30 ? BigInt(x >>> (ip - 30)) : BigInt(x) << BigInt(30 - ip);
  let frac = 0;
  for (let b = 15; b >= 0; --b) {
    y = (y * y) >> 30n;
    if (y >= 1n << 31n) {
      y >>= 1n;
      frac |= 1 << b;
    }
  }
  return ip * 65536 + frac;
}

const MAX_STEP = 1n << 30n;
const limitStep = (s: bigint): bigint => (s > MAX_STEP ? MAX_STEP : s < -MAX_STEP ? -MAX_STEP : s);

/** mt_gi_step: acc * 2^e * m * 2^(shift - 31), rounded, limited to +-2^30. */
export function step(acc: bigint, e: number, m: number, shift: number, sgd: SgdInt): bigint {
  const draw = sgd.stochastic ? xorshift32(sgd) : 0;
  if (acc === 0n || m === 0) return 0n;
  const k = bitlen(acc) > 31 ? bitlen(acc) - 31 : 0;
  const p = shiftRound(acc, k) * BigInt(m);
  let s = 31 - shift - e - k;
  if (s <= 0) {
    if (bitlen(p) - s > 31) return p < 0n ? -MAX_STEP : MAX_STEP;
    return limitStep(p << BigInt(-s));
  }
  if (!sgd.stochastic) return limitStep(shiftRound(p, s));
  let pp = p;
  if (s > 62) {
    pp = s - 62 >= 63 ? (p < 0n ? -1n : 0n) : p >> BigInt(s - 62);
    s = 62;
  }
  const u = s >= 32 ? BigInt(draw) << BigInt(s - 32) : BigInt(draw >>> (32 - s));
  return limitStep((pp + u) >> BigInt(s));
}

const factorTimesLr = (f: IntFactors, c: number, sgd: SgdInt) => ({ m: doublingHighMul(f.multiplier[c], sgd.lrMultiplier), shift: f.shift[c] + sgd.lrShift });

/** The scaling fields of mt_softmax_params (input_multiplier, input_left_shift, diff_min) the loss reads. */
export interface XentParams { multiplier: number; leftShift: number; diffMin: number }

export function softmaxXentInt(logits: number[], p: XentParams, label: number, bits: Bits): { loss: number; predicted: number; grad: Narrow } {
  const n = logits.length;
  if (n === 0) return { loss: 0, predicted: -1, grad: { q: [], exp: EXP_ZERO } };
  let best = 0;
  for (let i = 1; i < n; ++i) if (logits[i] > logits[best]) best = i;
  const qMax = logits[best];
  const scaled = (diff: number) => multiplyByQuantizedMultiplier(diff, p.multiplier, p.leftShift);
  const expOf = (diff: number) => (diff < p.diffMin ? 0 : expOfScaledDiffQ0(scaled(diff)));
  let sum = 0;
  for (const q of logits) sum += roundingShiftRight(expOf(q - qMax), 12);
  const { reciprocal, bitsOverUnit } = reciprocalOfQ12(sum);
  const q = new Array<number>(n).fill(0);
  const w = new IntWriter(q, bits);
  for (let i = 0; i < n; ++i) {
    let v = BigInt(doublingHighMul(reciprocal, expOf(logits[i] - qMax)));
    if (i === label) v -= 1n << BigInt(31 + bitsOverUnit);
    w.put(i, v, -31 - bitsOverUnit);
  }
  const grad = { q, exp: w.exp };
  if (label < 0 || label >= n) return { loss: -65536, predicted: best, grad };
  const lnSum = Number(shiftRound(BigInt(log2Q16(sum) - 19 * 65536) * 1488522236n, 31));
  const z = shiftRound(BigInt(logits[label] - qMax) * BigInt(p.multiplier), 41 - p.leftShift);
  return { loss: lnSum - Number(z), predicted: best, grad };
}

export function gradCopyInt(src: Narrow, dst: Narrow, accumulate: boolean, bits: Bits): Narrow {
  return write(src.q.length, bits, termExp(src.exp, 0), dst, accumulate, (i) => BigInt(src.q[i]));
}

export interface Scales { q: number[]; exp: number }

export function convGradInputInt(g: ConvGeometry, depthwise: boolean, inD: Dims, fD: Dims, filter: number[], s: Scales, outD: Dims,
  gradOut: Narrow, old: Narrow, accumulate: boolean, bits: Bits): Narrow {
  return write(count(inD), bits, termExp(gradOut.exp, s.exp), old, accumulate, (i) => {
    const ic = i % inD.c;
    const channels = depthwise ? Array.from({ length: g.depthMultiplier }, (_, m) => ic * g.depthMultiplier + m) : Array.from({ length: outD.c }, (_, oc) => oc);
    let acc = 0n;
    forEachGatherTap(g, inD, fD, outD, i, (n, oy, ox, fy, fx) => {
      for (const oc of channels) {
        const w = depthwise ? filter[off4(fD, 0, fy, fx, oc)] : filter[off4(fD, oc, fy, fx, ic)];
        acc += BigInt(gradOut.q[off4(outD, n, oy, ox, oc)] * w) * BigInt(s.q[oc]);
      }
    });
    return acc;
  });
}

export function fcGradInputInt(batches: number, depth: number, outDepth: number, weights: number[], s: Scales,
  gradOut: Narrow, old: Narrow, accumulate: boolean, bits: Bits): Narrow {
  return write(batches * depth, bits, termExp(gradOut.exp, s.exp), old, accumulate, (i) => {
    const b = Math.floor(i / depth), d = i % depth;
    let acc = 0n;
    for (let oc = 0; oc < outDepth; ++oc) acc += BigInt(gradOut.q[b * outDepth + oc] * weights[oc * depth + d]) * BigInt(s.q[oc]);
    return acc;
  });
}

const reciprocalQ24 = (n: number): number => Math.floor((2 ** 24 + Math.floor(n / 2)) / n);

export function avgPoolGradInt(p: PoolGeometry, inD: Dims, outD: Dims, gradOut: Narrow, old: Narrow, accumulate: boolean, bits: Bits): Narrow {
  const sums = new Array<bigint>(count(inD)).fill(0n);
  forEachPoolTap(p, inD, outD, (n, oy, ox, c, y, x, cnt) => {
    sums[off4(inD, n, y, x, c)] += BigInt(gradOut.q[off4(outD, n, oy, ox, c)]) * BigInt(reciprocalQ24(cnt));
  });
  return write(count(inD), bits, termExp(gradOut.exp, -24), old, accumulate, (i) => sums[i]);
}

export function meanGradInt(inD: Dims, gradOut: Narrow, old: Narrow, accumulate: boolean, bits: Bits): Narrow {
  const share = BigInt(reciprocalQ24(inD.h * inD.w)), per = inD.h * inD.w * inD.c;
  return write(count(inD), bits, termExp(gradOut.exp, -24), old, accumulate,
    (i) => BigInt(gradOut.q[Math.floor(i / per) * inD.c + (i % inD.c)]) * share);
}

export function padGradInt(inD: Dims, outD: Dims, before: number[], gradOut: Narrow, old: Narrow, accumulate: boolean, bits: Bits): Narrow {
  return write(count(inD), bits, termExp(gradOut.exp, 0), old, accumulate, (i) => {
    const c = i % inD.c, x = Math.floor(i / inD.c) % inD.w, y = Math.floor(i / (inD.c * inD.w)) % inD.h, n = Math.floor(i / (inD.c * inD.w * inD.h));
    return BigInt(gradOut.q[off4(outD, n + before[0], y + before[1], x + before[2], c + before[3])]);
  });
}

const weightStep = (w: number, s: bigint): number => Math.min(127, Math.max(-127, Number(BigInt(w) - s)));

export function biasUpdateInt(outD: Dims, gradOut: Narrow, bias: number[], f: IntFactors, nChannels: number, sgd: SgdInt): number[] {
  const b = bias.slice();
  const positions = outD.n * outD.h * outD.w, e = termExp(gradOut.exp, 0);
  for (let c = 0; c < nChannels; ++c) {
    let acc = 0n;
    for (let i = 0; i < positions; ++i) acc += BigInt(gradOut.q[i * outD.c + c]);
    const { m, shift } = factorTimesLr(f, c, sgd);
    const v = BigInt(b[c]) - step(acc, e, m, shift, sgd);
    b[c] = Number(v > 2147483647n ? 2147483647n : v < -2147483648n ? -2147483648n : v);
  }
  return b;
}

/** Conv (depthwise = false) or depthwise weight update, channel by channel in the kernel's order (the draws follow it). */
export function convUpdateInt(g: ConvGeometry, depthwise: boolean, inputOffset: number, inD: Dims, input: number[], fD: Dims, filter: number[],
  f: IntFactors, nChannels: number, outD: Dims, gradOut: Narrow, sgd: SgdInt): number[] {
  const w = filter.slice();
  const e = termExp(gradOut.exp, 0), depth = depthwise ? 1 : fD.c;
  for (let oc = 0; oc < nChannels; ++oc) {
    const { m, shift } = factorTimesLr(f, oc, sgd);
    for (let fy = 0; fy < fD.h; ++fy)
      for (let fx = 0; fx < fD.w; ++fx)
        for (let k = 0; k < depth; ++k) {
          const ic = depthwise ? Math.floor(oc / g.depthMultiplier) : k;
          let acc = 0n;
          forEachOutputOfTap(g, inD, outD, fy, fx, (n, oy, ox, iy, ix) => {
            acc += BigInt(gradOut.q[off4(outD, n, oy, ox, oc)] * (input[off4(inD, n, iy, ix, ic)] + inputOffset));
          });
          const i = depthwise ? off4(fD, 0, fy, fx, oc) : off4(fD, oc, fy, fx, k);
          w[i] = weightStep(w[i], step(acc, e, m, shift, sgd));
        }
  }
  return w;
}

export function fcUpdateInt(batches: number, depth: number, outDepth: number, input: number[], inputOffset: number, weights: number[],
  f: IntFactors, nChannels: number, gradOut: Narrow, sgd: SgdInt): number[] {
  const w = weights.slice(), e = termExp(gradOut.exp, 0);
  for (let oc = 0; oc < nChannels; ++oc) {
    const { m, shift } = factorTimesLr(f, oc, sgd);
    for (let d = 0; d < depth; ++d) {
      let acc = 0n;
      for (let b = 0; b < batches; ++b) acc += BigInt(gradOut.q[b * outDepth + oc] * (input[b * depth + d] + inputOffset));
      const i = oc * depth + d;
      w[i] = weightStep(w[i], step(acc, e, m, shift, sgd));
    }
  }
  return w;
}
