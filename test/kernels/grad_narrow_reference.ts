/**
 * Mirror of the narrow-gradient kernels (firmware/include/mcutrain/kernels/train_narrow.h): the
 * quantizer with its single-pass exponent choice and renormalization, and every kernel's float sums
 * in the C order with Math.fround after each operation, so the results match the C bit for bit.
 */
import {
  bitsOf, convUpdate, count, expf, fcUpdate, logf, off4, stepS32, type ConvGeometry, type Dims, type PoolGeometry,
  type Sgd, type UpdateResult,
} from './train_reference.ts';

const f = Math.fround;
export const EXP_ZERO = -128;

export type Bits = 16 | 8;
export const qmax = (bits: Bits): number => 2 ** (bits - 1) - 1;

const biasedExp = (v: number): number => (bitsOf(v) >>> 23) & 0xff;

/** v * 2^k by exponent arithmetic (mt_gq_scale_pow2): below 2^-126 is +-0, above the float range +-infinity. */
export function scalePow2(v: number, k: number): number {
  const e = biasedExp(v);
  if (e === 0) return v < 0 || Object.is(v, -0) ? -0 : 0;
  if (e === 255) return v;
  const scaled = e + k;
  if (scaled <= 0) return v < 0 ? -0 : 0;
  if (scaled >= 255) return v < 0 ? -Infinity : Infinity;
  return f(v * 2 ** k);
}

/** The exponent value v * 2^extra needs with `bits`-bit storage (mt_gq_needed_exp). */
export function neededExp(v: number, extra: number, bits: Bits): number {
  const e = biasedExp(v);
  if (e === 0 || Number.isNaN(v)) return EXP_ZERO;
  return Math.min(127, Math.max(-127, e - 127 + extra - (bits - 2)));
}

/** round_half_away(v * 2^(extra - exp)), saturated at +-qmax (mt_gq_quantize). */
export function quantize(v: number, extra: number, exp: number, max: number): number {
  const b = bitsOf(v);
  const e = (b >>> 23) & 0xff;
  if (e === 0 || Number.isNaN(v)) return 0;
  let mag: number;
  if (e === 255) mag = max;
  else {
    const m = (b & 0x7fffff) | 0x800000;
    const shift = exp + 150 - e - extra;
    mag = shift >= 25 ? 0 : shift <= 0 ? max : Math.floor((m + 2 ** (shift - 1)) / 2 ** shift);
    mag = Math.min(mag, max);
  }
  return b >>> 31 && mag !== 0 ? -mag : mag; // no -0 (C ints have none)
}

/** q / 2^k rounded half away from zero (the stored prefix when the exponent rises by k). */
export function shiftDown(q: number, k: number): number {
  if (k >= 31) return 0;
  const r = Math.floor((Math.abs(q) + 2 ** (k - 1)) / 2 ** k);
  return q < 0 && r !== 0 ? -r : r;
}

/** The writer of one gradient tensor: puts in memory order, raising the exponent as values need. */
export class Writer {
  exp = EXP_ZERO;
  constructor(readonly q: number[], private readonly bits: Bits) {}
  put(i: number, v: number, extra: number): void {
    const need = neededExp(v, extra, this.bits);
    if (need > this.exp) {
      if (this.exp !== EXP_ZERO) for (let j = 0; j < i; ++j) this.q[j] = shiftDown(this.q[j], need - this.exp);
      this.exp = need;
    }
    this.q[i] = this.exp === EXP_ZERO ? 0 : quantize(v, extra, this.exp, qmax(this.bits));
  }
}

/** A narrow tensor: its integers and exponent (real = q * 2^exp). */
export interface Narrow { q: number[]; exp: number }

/** A random narrow tensor for the kernel tests: mostly full-range integers at a random exponent, sometimes all zero or tiny. */
export function randomNarrow(rand: (lo: number, hi: number) => number, n: number, bits: Bits): Narrow {
  const kind = rand(0, 9);
  if (kind === 0) return { q: new Array<number>(n).fill(0), exp: EXP_ZERO };
  const m = kind === 1 ? 3 : qmax(bits);
  return { q: Array.from({ length: n }, () => rand(-m, m)), exp: rand(-30, 2) };
}

export const dequantize = (t: Narrow): number[] => t.q.map((q) => (t.exp === EXP_ZERO ? 0 : q * 2 ** t.exp));

/** A gradient written element by element (n elements, values from `value(i)` in units of 2^base), onto an old one with accumulate. */
function write(n: number, bits: Bits, gradOutExp: number, old: Narrow, accumulate: boolean, value: (i: number) => number): Narrow {
  const base = gradOutExp !== EXP_ZERO ? gradOutExp : old.exp !== EXP_ZERO ? old.exp : 0;
  const addOld = accumulate && old.exp !== EXP_ZERO;
  const q = old.q.slice(0, n);
  while (q.length < n) q.push(0);
  const w = new Writer(q, bits);
  for (let i = 0; i < n; ++i) {
    const acc = value(i);
    w.put(i, addOld ? f(scalePow2(old.q[i], old.exp - base) + acc) : acc, base);
  }
  return { q, exp: w.exp };
}

export function softmaxXentNarrow(logits: number[], scale: number, label: number, bits: Bits): { loss: number; predicted: number; grad: Narrow } {
  const n = logits.length;
  let best = 0;
  for (let i = 1; i < n; ++i) if (logits[i] > logits[best]) best = i;
  const sc = f(scale);
  let sum = 0;
  const e = logits.map((q) => expf(f(sc * (q - logits[best]))));
  for (const x of e) sum = f(sum + x);
  const loss = label < 0 || label >= n ? -1 : f(logf(sum) - f(sc * (logits[label] - logits[best])));
  const q = new Array<number>(n).fill(0);
  const w = new Writer(q, bits);
  for (let i = 0; i < n; ++i) {
    let g = f(e[i] / sum);
    if (i === label) g = f(g - 1);
    w.put(i, g, 0);
  }
  return { loss, predicted: best, grad: { q, exp: w.exp } };
}

export function clampMask(out: number[], q: number[], min: number, max: number, projected: boolean): number[] {
  return q.map((v, i) => (projected ? (out[i] <= min && v > 0) || (out[i] >= max && v < 0) : out[i] <= min || out[i] >= max) ? 0 : v);
}

export const maskApply = (bytes: number[], q: number[]): number[] => q.map((v, i) => ((bytes[i >> 3] >> (i & 7)) & 1 ? v : 0));

export function gradCopy(src: Narrow, dst: Narrow, accumulate: boolean, bits: Bits): Narrow {
  if (!accumulate) return { q: src.q.slice(), exp: src.exp };
  return write(src.q.length, bits, src.exp, dst, true, (i) => src.q[i]);
}

/** [n, y, x, c] of element i of an NHWC tensor. */
const coords = (d: Dims, i: number): [number, number, number, number] =>
  [Math.floor(i / (d.c * d.w * d.h)), Math.floor(i / (d.c * d.w)) % d.h, Math.floor(i / d.c) % d.w, i % d.c];

/** The output index of a tap ((num / stride) when it divides and lies below limit), or -1. */
function tapRow(num: number, stride: number, limit: number): number {
  if (num < 0 || num % stride !== 0) return -1;
  const o = num / stride;
  return o < limit ? o : -1;
}

/** Calls visit(n, oy, ox, fy, fx) for each tap (fy, fx), in that order, that reads input element (n, y, x, c). */
export function forEachGatherTap(g: ConvGeometry, inD: Dims, fD: Dims, outD: Dims, i: number,
  visit: (n: number, oy: number, ox: number, fy: number, fx: number) => void): void {
  const [n, y, x] = coords(inD, i);
  for (let fy = 0; fy < fD.h; ++fy) {
    const oy = tapRow(y + g.padH - fy * g.dilationH, g.strideH, outD.h);
    if (oy < 0) continue;
    for (let fx = 0; fx < fD.w; ++fx) {
      const ox = tapRow(x + g.padW - fx * g.dilationW, g.strideW, outD.w);
      if (ox >= 0) visit(n, oy, ox, fy, fx);
    }
  }
}

/** CONV_2D (depthwise = false) or DEPTHWISE_CONV_2D input gradient, gathered per element. */
export function convGradInputNarrow(g: ConvGeometry, depthwise: boolean, inD: Dims, fD: Dims, filter: number[], scale: number[], outD: Dims,
  gradOut: Narrow, old: Narrow, accumulate: boolean, bits: Bits): Narrow {
  return write(count(inD), bits, gradOut.exp, old, accumulate, (i) => {
    const ic = i % inD.c;
    const channels = depthwise ? Array.from({ length: g.depthMultiplier }, (_, m) => ic * g.depthMultiplier + m) : Array.from({ length: outD.c }, (_, oc) => oc);
    let acc = 0;
    forEachGatherTap(g, inD, fD, outD, i, (n, oy, ox, fy, fx) => {
      for (const oc of channels) {
        const w = depthwise ? filter[off4(fD, 0, fy, fx, oc)] : filter[off4(fD, oc, fy, fx, ic)];
        acc = f(acc + f(gradOut.q[off4(outD, n, oy, ox, oc)] * w * scale[oc]));
      }
    });
    return acc;
  });
}

/** The float32 depthwise input gradient in place (gathered, depthwise_grad_gather.inc): term (g * s) * w. */
export function dwGradInputGatherF32(g: ConvGeometry, inD: Dims, fD: Dims, filter: number[], scale: number[], outD: Dims, gradOut: number[]): number[] {
  return Array.from({ length: count(inD) }, (_, i) => {
    const ic = i % inD.c;
    let acc = 0;
    forEachGatherTap(g, inD, fD, outD, i, (n, oy, ox, fy, fx) => {
      acc = f(acc + f(f(gradOut[off4(outD, n, oy, ox, ic)] * scale[ic]) * filter[off4(fD, 0, fy, fx, ic)]));
    });
    return acc;
  });
}

export function fcGradInputNarrow(batches: number, depth: number, outDepth: number, weights: number[], scale: number[],
  gradOut: Narrow, old: Narrow, accumulate: boolean, bits: Bits): Narrow {
  return write(batches * depth, bits, gradOut.exp, old, accumulate, (i) => {
    const b = Math.floor(i / depth), d = i % depth;
    let acc = 0;
    for (let oc = 0; oc < outDepth; ++oc) acc = f(acc + f(gradOut.q[b * outDepth + oc] * weights[oc * depth + d] * scale[oc]));
    return acc;
  });
}

export function avgPoolGradNarrow(p: PoolGeometry, inD: Dims, outD: Dims, gradOut: Narrow, old: Narrow, accumulate: boolean, bits: Bits): Narrow {
  return write(count(inD), bits, gradOut.exp, old, accumulate, (i) => {
    const [n, y, x, c] = coords(inD, i);
    let acc = 0;
    for (let oy = 0; oy < outD.h; ++oy) {
      const y0 = oy * p.strideH - p.padH;
      if (y < y0 || y >= y0 + p.filterH) continue;
      const rows = Math.min(p.filterH, inD.h - y0) - Math.max(0, -y0);
      for (let ox = 0; ox < outD.w; ++ox) {
        const x0 = ox * p.strideW - p.padW;
        if (x < x0 || x >= x0 + p.filterW) continue;
        const cols = Math.min(p.filterW, inD.w - x0) - Math.max(0, -x0);
        acc = f(acc + f(gradOut.q[off4(outD, n, oy, ox, c)] / (rows * cols)));
      }
    }
    return acc;
  });
}

export function meanGradNarrow(inD: Dims, gradOut: Narrow, old: Narrow, accumulate: boolean, bits: Bits): Narrow {
  const cnt = inD.h * inD.w;
  return write(count(inD), bits, gradOut.exp, old, accumulate, (i) => f(gradOut.q[Math.floor(i / (cnt * inD.c)) * inD.c + (i % inD.c)] / cnt));
}

export function padGradNarrow(inD: Dims, outD: Dims, before: number[], gradOut: Narrow, old: Narrow, accumulate: boolean, bits: Bits): Narrow {
  return write(count(inD), bits, gradOut.exp, old, accumulate, (i) => {
    const [n, y, x, c] = coords(inD, i);
    return gradOut.q[off4(outD, n + before[0], y + before[1], x + before[2], c + before[3])];
  });
}

function direction(sgd: Sgd, mom: Float32Array | null, i: number, g: number): number {
  if (mom === null || sgd.momentum === 0) return g;
  mom[i] = f(f(sgd.momentum * mom[i]) + g);
  return mom[i];
}

export function biasUpdateNarrow(outD: Dims, gradOut: Narrow, bias: number[], gradFactor: number[], nChannels: number,
  sgd: Sgd, momentum: number[] | null): UpdateResult {
  const b = bias.slice();
  const mom = momentum === null ? null : Float32Array.from(momentum);
  const positions = outD.n * outD.h * outD.w;
  for (let c = 0; c < nChannels; ++c) {
    let acc = 0; // int64 in C: exact
    for (let i = 0; i < positions; ++i) acc += gradOut.q[i * outD.c + c];
    b[c] = stepS32(b[c], f(sgd.lr), direction(sgd, mom, c, f(scalePow2(f(acc), gradOut.exp) * gradFactor[c])));
  }
  return { params: b, momentum: mom === null ? [] : Array.from(mom) };
}

/**
 * Weight updates: the float32 mirrors on the integers, with input_scale * 2^e for input_scale. The
 * products g_q * (q_in + offset) are exact in float either way, and scaling the sum by 2^e before
 * multiplying by input_scale rounds as multiplying by the exact input_scale * 2^e does (a power of
 * two moves no bits, while nothing leaves the normal range, as in the cases tested).
 */
export function convUpdateNarrow(g: ConvGeometry, depthwise: boolean, inputOffset: number, inD: Dims, input: number[], inputScale: number,
  fD: Dims, filter: number[], gradFactor: number[], nChannels: number, outD: Dims, gradOut: Narrow, sgd: Sgd, momentum: number[] | null): UpdateResult {
  return convUpdate(g, depthwise, inputOffset, inD, input, f(inputScale * 2 ** gradOut.exp), fD, filter, gradFactor, nChannels, outD, gradOut.q, sgd, momentum);
}

export function fcUpdateNarrow(batches: number, depth: number, outDepth: number, input: number[], inputScale: number, inputOffset: number,
  weights: number[], gradFactor: number[], nChannels: number, gradOut: Narrow, sgd: Sgd, momentum: number[] | null): UpdateResult {
  return fcUpdate(batches, depth, outDepth, input, f(inputScale * 2 ** gradOut.exp), inputOffset, weights, gradFactor, nChannels, gradOut.q, sgd, momentum);
}
