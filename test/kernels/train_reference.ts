/**
 * Test oracles for the training kernels (firmware/include/mcutrain/kernels/train.h), two kinds:
 * - float32 mirrors: the C arithmetic step by step with Math.fround after every operation, in the
 *   C code's summation order, so the results must match the C kernels bit for bit. (+ - * / of two
 *   floats computed in double and rounded once to float is the correctly rounded float result, so a
 *   mirror of an IEEE float program is exact.)
 * - float64 definitions: the forward operators as plain linear maps, for adjoint identities that
 *   catch a mirror that faithfully copies a wrong algorithm.
 */

const f = Math.fround;
const buf = new DataView(new ArrayBuffer(4));

export function bitsOf(x: number): number {
  buf.setFloat32(0, x);
  return buf.getUint32(0);
}

export function f32OfBits(u: number): number {
  buf.setUint32(0, u >>> 0);
  return buf.getFloat32(0);
}

export interface Dims { n: number; h: number; w: number; c: number }
export const count = (d: Dims): number => d.n * d.h * d.w * d.c;
export const off4 = (d: Dims, n: number, y: number, x: number, c: number): number => ((n * d.h + y) * d.w + x) * d.c + c;

export interface Sgd { lr: number; momentum: number }

// ---- rounding and SGD (train_common.h) ----

export function roundHalfAway(x: number): number {
  const t = Math.trunc(x);
  const frac = f(x - t);
  if (frac >= 0.5) return t + 1;
  if (frac <= -0.5) return t - 1;
  return t + 0; // no -0 (C ints have none)
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);

export function stepS8(w: number, lr: number, d: number): number {
  const delta = f(lr * d);
  let v = f(w - delta);
  if (Number.isNaN(v)) return w;
  v = clamp(v, -128, 128);
  return clamp(roundHalfAway(v), -127, 127);
}

export function stepS32(b: number, lr: number, d: number): number {
  let delta = f(lr * d);
  if (Number.isNaN(delta)) return b;
  delta = clamp(delta, -(2 ** 30), 2 ** 30);
  return clamp(b - roundHalfAway(delta), INT32_MIN, INT32_MAX);
}

/** The step direction of gradient g for parameter i, updating the momentum buffer when it is used. */
function direction(sgd: Sgd, mom: Float32Array | null, i: number, g: number): number {
  if (mom === null || sgd.momentum === 0) return g;
  mom[i] = f(f(sgd.momentum * mom[i]) + g);
  return mom[i];
}

// ---- e^x, ln x, softmax cross-entropy (train_loss.c) ----

export function expf(xIn: number): number {
  let x = f(xIn);
  if (Number.isNaN(x)) return x;
  if (x > 88) x = 88;
  if (x < -87) return 0;
  const LN2_HI = f(0.693145751953125);
  const LN2_LO = f(1.42860682030941723e-6);
  const k = roundHalfAway(f(x * f(1.44269504088896341)));
  const r = f(f(x - f(k * LN2_HI)) - f(k * LN2_LO));
  let p = f(1 / 5040);
  for (const c of [1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5]) p = f(f(p * r) + f(c));
  p = f(f(p * r) * r);
  const er = f(1 + f(r + p));
  return f(er * 2 ** k);
}

export function logf(xIn: number): number {
  const x = f(xIn);
  if (Number.isNaN(x)) return x;
  if (x <= 0) return f(-1e30);
  if (x === Infinity) return x;
  let e = 0;
  let bits = bitsOf(x);
  if (bits < 0x00800000) {
    bits = bitsOf(f(x * 8388608));
    e = -23;
  }
  e += (bits >>> 23) - 127;
  let m = f32OfBits((bits & 0x007fffff) | 0x3f800000);
  if (m > f(1.41421356)) {
    m = m / 2;
    e += 1;
  }
  const fr = f(m - 1);
  const s = f(fr / f(2 + fr));
  const z = f(s * s);
  let R = f(2 / 11);
  for (const c of [2 / 9, 2 / 7, 2 / 5, 2 / 3]) R = f(f(R * z) + f(c));
  R = f(R * z);
  const hfsq = f(f(0.5 * fr) * fr);
  const LN2_HI = f(6.9313812256e-1);
  const LN2_LO = f(9.0580006145e-6);
  return f(f(e * LN2_HI) - f(f(hfsq - f(f(s * f(hfsq + R)) + f(e * LN2_LO))) - fr));
}

export interface SoftmaxResult { loss: number; predicted: number; grad: number[] }

export function softmaxXent(logits: number[], scale: number, label: number): SoftmaxResult {
  const n = logits.length;
  let best = 0;
  for (let i = 1; i < n; ++i) if (logits[i] > logits[best]) best = i;
  const qMax = logits[best];
  const sc = f(scale);
  let sum = 0;
  const grad = logits.map((q) => {
    const e = expf(f(sc * (q - qMax)));
    sum = f(sum + e);
    return e;
  });
  for (let i = 0; i < n; ++i) grad[i] = f(grad[i] / sum);
  if (label < 0 || label >= n) return { loss: -1, predicted: best, grad };
  grad[label] = f(grad[label] - 1);
  return { loss: f(logf(sum) - f(sc * (logits[label] - qMax))), predicted: best, grad };
}

// ---- input gradients (float32 mirrors, scatter in the forward loop order) ----

export interface ConvGeometry {
  strideH: number; strideW: number;
  dilationH: number; dilationW: number;
  padH: number; padW: number;
  depthMultiplier: number; // 1 for CONV_2D
}

export interface ConvShape { g: ConvGeometry; inD: Dims; fD: Dims; outD: Dims }

/**
 * Random conv / depthwise geometry: strides 1-2, dilations 1-2, filters up to `filterMax` (3) square,
 * SAME (TensorFlow's split, more at the end) or VALID; `stride1Same`: stride 1, SAME, one output
 * channel per input channel (an in-place depthwise layer).
 */
export function randomConvShape(rand: (lo: number, hi: number) => number, depthwise: boolean,
  opts: { filterMax?: number; stride1Same?: boolean } = {}): ConvShape {
  const fMax = opts.filterMax ?? 3;
  const inD = { n: rand(1, 2), h: rand(1, 7), w: rand(1, 7), c: rand(1, 4) };
  const depthMultiplier = depthwise && !opts.stride1Same ? rand(1, 2) : 1;
  const oc = depthwise ? inD.c * depthMultiplier : rand(1, 5);
  const fD = depthwise ? { n: 1, h: rand(1, fMax), w: rand(1, fMax), c: oc } : { n: oc, h: rand(1, fMax), w: rand(1, fMax), c: inD.c };
  const stride = () => (opts.stride1Same ? 1 : rand(1, 2));
  const g: ConvGeometry = { strideH: stride(), strideW: stride(), dilationH: rand(1, 2), dilationW: rand(1, 2), padH: 0, padW: 0, depthMultiplier };
  const effH = (fD.h - 1) * g.dilationH + 1, effW = (fD.w - 1) * g.dilationW + 1;
  const same = opts.stride1Same || rand(0, 1) === 1 || inD.h < effH || inD.w < effW;
  let outH: number, outW: number;
  if (same) {
    outH = Math.ceil(inD.h / g.strideH);
    outW = Math.ceil(inD.w / g.strideW);
    g.padH = Math.floor(Math.max((outH - 1) * g.strideH + effH - inD.h, 0) / 2);
    g.padW = Math.floor(Math.max((outW - 1) * g.strideW + effW - inD.w, 0) / 2);
  } else {
    outH = Math.floor((inD.h - effH) / g.strideH) + 1;
    outW = Math.floor((inD.w - effW) / g.strideW) + 1;
  }
  return { g, inD, fD, outD: { n: inD.n, h: outH, w: outW, c: oc } };
}

/** Calls visit(n, oy, ox, oc, fy, fx, iy, ix) for every in-bounds tap of a conv (depthwise: depthwise=true) in the kernels' scatter order. */
function forEachTap(g: ConvGeometry, inD: Dims, fD: Dims, outD: Dims,
  visit: (n: number, oy: number, ox: number, oc: number, fy: number, fx: number, iy: number, ix: number) => void): void {
  for (let n = 0; n < outD.n; ++n)
    for (let oy = 0; oy < outD.h; ++oy)
      for (let ox = 0; ox < outD.w; ++ox)
        for (let oc = 0; oc < outD.c; ++oc)
          for (let fy = 0; fy < fD.h; ++fy) {
            const iy = oy * g.strideH - g.padH + fy * g.dilationH;
            if (iy < 0 || iy >= inD.h) continue;
            for (let fx = 0; fx < fD.w; ++fx) {
              const ix = ox * g.strideW - g.padW + fx * g.dilationW;
              if (ix < 0 || ix >= inD.w) continue;
              visit(n, oy, ox, oc, fy, fx, iy, ix);
            }
          }
}

export function convGradInput(g: ConvGeometry, inD: Dims, fD: Dims, filter: number[], scale: number[], outD: Dims,
  gradOut: number[], gradIn: number[], accumulate: boolean): number[] {
  const gi = accumulate ? gradIn.slice() : new Array<number>(count(inD)).fill(0);
  forEachTap(g, inD, fD, outD, (n, oy, ox, oc, fy, fx, iy, ix) => {
    const s = f(gradOut[off4(outD, n, oy, ox, oc)] * scale[oc]);
    for (let ic = 0; ic < fD.c; ++ic) {
      const j = off4(inD, n, iy, ix, ic);
      gi[j] = f(gi[j] + f(s * filter[off4(fD, oc, fy, fx, ic)]));
    }
  });
  return gi;
}

export function dwGradInput(g: ConvGeometry, inD: Dims, fD: Dims, filter: number[], scale: number[], outD: Dims,
  gradOut: number[], gradIn: number[], accumulate: boolean): number[] {
  const gi = accumulate ? gradIn.slice() : new Array<number>(count(inD)).fill(0);
  forEachTap(g, inD, fD, outD, (n, oy, ox, oc, fy, fx, iy, ix) => {
    const s = f(gradOut[off4(outD, n, oy, ox, oc)] * scale[oc]);
    const j = off4(inD, n, iy, ix, Math.floor(oc / g.depthMultiplier));
    gi[j] = f(gi[j] + f(s * filter[off4(fD, 0, fy, fx, oc)]));
  });
  return gi;
}

export function fcGradInput(batches: number, depth: number, outDepth: number, weights: number[], scale: number[],
  gradOut: number[], gradIn: number[], accumulate: boolean): number[] {
  const gi = accumulate ? gradIn.slice() : new Array<number>(batches * depth).fill(0);
  for (let b = 0; b < batches; ++b)
    for (let oc = 0; oc < outDepth; ++oc) {
      const s = f(gradOut[b * outDepth + oc] * scale[oc]);
      for (let d = 0; d < depth; ++d) gi[b * depth + d] = f(gi[b * depth + d] + f(s * weights[oc * depth + d]));
    }
  return gi;
}

export interface PoolGeometry { strideH: number; strideW: number; filterH: number; filterW: number; padH: number; padW: number }

/** Calls visit(n, oy, ox, c, iy, ix, inBoundsCount) for every in-bounds element of every pooling window, in the kernel's order. */
export function forEachPoolTap(p: PoolGeometry, inD: Dims, outD: Dims,
  visit: (n: number, oy: number, ox: number, c: number, iy: number, ix: number, cnt: number) => void): void {
  for (let n = 0; n < outD.n; ++n)
    for (let oy = 0; oy < outD.h; ++oy)
      for (let ox = 0; ox < outD.w; ++ox) {
        const ys: number[] = [], xs: number[] = [];
        for (let fy = 0; fy < p.filterH; ++fy) { const y = oy * p.strideH - p.padH + fy; if (y >= 0 && y < inD.h) ys.push(y); }
        for (let fx = 0; fx < p.filterW; ++fx) { const x = ox * p.strideW - p.padW + fx; if (x >= 0 && x < inD.w) xs.push(x); }
        for (let c = 0; c < outD.c; ++c) for (const y of ys) for (const x of xs) visit(n, oy, ox, c, y, x, ys.length * xs.length);
      }
}

export function avgPoolGrad(p: PoolGeometry, inD: Dims, outD: Dims, gradOut: number[], gradIn: number[], accumulate: boolean): number[] {
  const gi = accumulate ? gradIn.slice() : new Array<number>(count(inD)).fill(0);
  forEachPoolTap(p, inD, outD, (n, oy, ox, c, y, x, cnt) => {
    const j = off4(inD, n, y, x, c);
    gi[j] = f(gi[j] + f(gradOut[off4(outD, n, oy, ox, c)] / cnt));
  });
  return gi;
}

export function meanGrad(inD: Dims, gradOut: number[], gradIn: number[], accumulate: boolean): number[] {
  const cnt = inD.h * inD.w;
  return gradIn.map((v, j) => {
    const c = j % inD.c, n = Math.floor(j / (cnt * inD.c));
    const share = f(gradOut[n * inD.c + c] / cnt);
    return accumulate ? f(v + share) : share;
  });
}

export function padGrad(inD: Dims, outD: Dims, before: number[], gradOut: number[], gradIn: number[], accumulate: boolean): number[] {
  const gi = gradIn.slice();
  for (let n = 0; n < inD.n; ++n) for (let y = 0; y < inD.h; ++y) for (let x = 0; x < inD.w; ++x) for (let c = 0; c < inD.c; ++c) {
    const j = off4(inD, n, y, x, c);
    const v = gradOut[off4(outD, n + before[0], y + before[1], x + before[2], c + before[3])];
    gi[j] = accumulate ? f(gi[j] + v) : v;
  }
  return gi;
}

// ---- updates (float32 mirrors) ----

export interface UpdateResult { params: number[]; momentum: number[] }

export function biasUpdate(outD: Dims, gradOut: number[], bias: number[], gradFactor: number[], nChannels: number,
  sgd: Sgd, momentum: number[] | null): UpdateResult {
  const b = bias.slice();
  const mom = momentum === null ? null : Float32Array.from(momentum);
  const positions = outD.n * outD.h * outD.w;
  for (let c = 0; c < nChannels; ++c) {
    let acc = 0;
    for (let i = 0; i < positions; ++i) acc = f(acc + gradOut[i * outD.c + c]);
    b[c] = stepS32(b[c], f(sgd.lr), direction(sgd, mom, c, f(acc * gradFactor[c])));
  }
  return { params: b, momentum: mom === null ? [] : Array.from(mom) };
}

/** Calls visit(n, oy, ox, iy, ix) for every output that filter tap (fy, fx) reads inside the input, in (n, oy, ox) order: the order of a weight's gradient sum. */
export function forEachOutputOfTap(g: ConvGeometry, inD: Dims, outD: Dims, fy: number, fx: number,
  visit: (n: number, oy: number, ox: number, iy: number, ix: number) => void): void {
  for (let n = 0; n < outD.n; ++n)
    for (let oy = 0; oy < outD.h; ++oy) {
      const iy = oy * g.strideH - g.padH + fy * g.dilationH;
      if (iy < 0 || iy >= inD.h) continue;
      for (let ox = 0; ox < outD.w; ++ox) {
        const ix = ox * g.strideW - g.padW + fx * g.dilationW;
        if (ix < 0 || ix >= inD.w) continue;
        visit(n, oy, ox, iy, ix);
      }
    }
}

/** Conv (depthwise = false) or depthwise weight update: the sums in (n, oy, ox) order per weight, channel by channel. */
export function convUpdate(g: ConvGeometry, depthwise: boolean, inputOffset: number, inD: Dims, input: number[], inputScale: number,
  fD: Dims, filter: number[], gradFactor: number[], nChannels: number, outD: Dims, gradOut: number[],
  sgd: Sgd, momentum: number[] | null): UpdateResult {
  const w = filter.slice();
  const mom = momentum === null ? null : Float32Array.from(momentum);
  const depth = depthwise ? 1 : fD.c;
  for (let oc = 0; oc < nChannels; ++oc)
    for (let fy = 0; fy < fD.h; ++fy)
      for (let fx = 0; fx < fD.w; ++fx)
        for (let k = 0; k < depth; ++k) {
          const ic = depthwise ? Math.floor(oc / g.depthMultiplier) : k;
          let acc = 0;
          forEachOutputOfTap(g, inD, outD, fy, fx, (n, oy, ox, iy, ix) => {
            acc = f(acc + f(gradOut[off4(outD, n, oy, ox, oc)] * (input[off4(inD, n, iy, ix, ic)] + inputOffset)));
          });
          const grad = f(f(acc * inputScale) * gradFactor[oc]);
          const i = depthwise ? off4(fD, 0, fy, fx, oc) : off4(fD, oc, fy, fx, k);
          const m = depthwise ? (fy * fD.w + fx) * nChannels + oc : i;
          w[i] = stepS8(w[i], f(sgd.lr), direction(sgd, mom, m, grad));
        }
  return { params: w, momentum: mom === null ? [] : Array.from(mom) };
}

export function fcUpdate(batches: number, depth: number, outDepth: number, input: number[], inputScale: number, inputOffset: number,
  weights: number[], gradFactor: number[], nChannels: number, gradOut: number[], sgd: Sgd, momentum: number[] | null): UpdateResult {
  const w = weights.slice();
  const mom = momentum === null ? null : Float32Array.from(momentum);
  for (let oc = 0; oc < nChannels; ++oc)
    for (let d = 0; d < depth; ++d) {
      let acc = 0;
      for (let b = 0; b < batches; ++b) acc = f(acc + f(gradOut[b * outDepth + oc] * (input[b * depth + d] + inputOffset)));
      const i = oc * depth + d;
      w[i] = stepS8(w[i], f(sgd.lr), direction(sgd, mom, i, f(f(acc * inputScale) * gradFactor[oc])));
    }
  return { params: w, momentum: mom === null ? [] : Array.from(mom) };
}

// ---- float64 definitions of the forward operators (linear maps), for adjoint identities ----

/** Real-valued CONV_2D / DEPTHWISE_CONV_2D without bias: y = sum over taps of weight * x, in float64. */
export function convForward64(g: ConvGeometry, depthwise: boolean, inD: Dims, x: number[], fD: Dims, weight: number[], outD: Dims): number[] {
  const y = new Array<number>(count(outD)).fill(0);
  for (let n = 0; n < outD.n; ++n)
    for (let oy = 0; oy < outD.h; ++oy)
      for (let ox = 0; ox < outD.w; ++ox)
        for (let oc = 0; oc < outD.c; ++oc) {
          let s = 0;
          for (let fy = 0; fy < fD.h; ++fy)
            for (let fx = 0; fx < fD.w; ++fx) {
              const iy = oy * g.strideH - g.padH + fy * g.dilationH, ix = ox * g.strideW - g.padW + fx * g.dilationW;
              if (iy < 0 || iy >= inD.h || ix < 0 || ix >= inD.w) continue;
              if (depthwise) s += weight[off4(fD, 0, fy, fx, oc)] * x[off4(inD, n, iy, ix, Math.floor(oc / g.depthMultiplier))];
              else for (let ic = 0; ic < inD.c; ++ic) s += weight[off4(fD, oc, fy, fx, ic)] * x[off4(inD, n, iy, ix, ic)];
            }
          y[off4(outD, n, oy, ox, oc)] = s;
        }
  return y;
}

export function fcForward64(batches: number, depth: number, outDepth: number, x: number[], weight: number[]): number[] {
  const y: number[] = [];
  for (let b = 0; b < batches; ++b)
    for (let oc = 0; oc < outDepth; ++oc) {
      let s = 0;
      for (let d = 0; d < depth; ++d) s += weight[oc * depth + d] * x[b * depth + d];
      y.push(s);
    }
  return y;
}

export function avgPoolForward64(p: PoolGeometry, inD: Dims, x: number[], outD: Dims): number[] {
  const y = new Array<number>(count(outD)).fill(0);
  forEachPoolTap(p, inD, outD, (n, oy, ox, c, iy, ix, cnt) => { y[off4(outD, n, oy, ox, c)] += x[off4(inD, n, iy, ix, c)] / cnt; });
  return y;
}

export function meanForward64(inD: Dims, x: number[]): number[] {
  const y = new Array<number>(inD.n * inD.c).fill(0);
  x.forEach((v, j) => { y[Math.floor(j / (inD.h * inD.w * inD.c)) * inD.c + (j % inD.c)] += v / (inD.h * inD.w); });
  return y;
}

export function padForward64(inD: Dims, outD: Dims, before: number[], x: number[]): number[] {
  const y = new Array<number>(count(outD)).fill(0);
  for (let n = 0; n < inD.n; ++n) for (let yy = 0; yy < inD.h; ++yy) for (let xx = 0; xx < inD.w; ++xx) for (let c = 0; c < inD.c; ++c)
    y[off4(outD, n + before[0], yy + before[1], xx + before[2], c + before[3])] = x[off4(inD, n, yy, xx, c)];
  return y;
}

/** <a, b> in float64, and the sum of |a_i b_i| (the scale of its rounding error). */
export function dot(a: number[], b: number[]): { value: number; magnitude: number } {
  let value = 0, magnitude = 0;
  for (let i = 0; i < a.length; ++i) { value += a[i] * b[i]; magnitude += Math.abs(a[i] * b[i]); }
  return { value, magnitude };
}
