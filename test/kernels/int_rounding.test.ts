/**
 * The rounding experiment of the integer-only update (issue 12): which rounding keeps updates alive
 * in int8 weights. A classifier (FULLY_CONNECTED 4 x 32, int8 weights with per-channel scales, QAS)
 * is fine-tuned on a seeded 4-class task, one sample per step, with the integer kernels' mirrors
 * (bit-exact with the C, grad_int.test.ts): the fixed-point loss gradient with int16 storage and the
 * fused weight update, rounded to nearest or stochastically, over a range of learning rates (and int8
 * gradients at two of them). Printed
 * per run: the mean fraction of weights a step changes, the mean loss over the last steps, accuracy.
 */
import { describe, expect, it } from 'vitest';
import { calculateInputRadius, preprocessSoftmaxScaling } from '../../src/lower/ops/softmax.ts';
import { seededInts } from './c_harness.ts';
import { fcUpdateInt, fixedFactors, sgdInt, softmaxXentInt } from './grad_int_reference.ts';
import type { Bits } from './grad_narrow_reference.ts';

const K = 4, D = 32, STEPS = 600, TAIL = 200;
const S_X = 0.05, LOGIT_SCALE = 0.1;

function task(seed: number) {
  const rand = seededInts(seed);
  const centers = Array.from({ length: K }, () => Array.from({ length: D }, () => rand(-60, 60)));
  const sample = (k: number) => centers[k].map((c) => Math.max(-128, Math.min(127, c + rand(-50, 50))));
  const data = Array.from({ length: STEPS }, (_, i) => ({ x: sample(i % K), label: i % K }));
  const test = Array.from({ length: 200 }, (_, i) => ({ x: sample(i % K), label: i % K }));
  const weights = Array.from({ length: K * D }, () => rand(-20, 20));
  const sW = Array.from({ length: K }, () => 0.008 + 0.004 * (rand(0, 1000) / 1000));
  return { data, test, weights, sW };
}

/** int8 logits of the classifier (real = S_X * sW[k] * sum(w * x), requantized to LOGIT_SCALE). */
const logitsOf = (w: number[], sW: number[], x: number[]) => Array.from({ length: K }, (_, k) => {
  let acc = 0;
  for (let d = 0; d < D; d++) acc += w[k * D + d] * x[d];
  return Math.max(-128, Math.min(127, Math.round((S_X * sW[k] * acc) / LOGIT_SCALE)));
});

function fineTune(lr: number, stochastic: boolean, seed: number, bits: Bits = 16) {
  const { data, test, weights, sW } = task(seed);
  const s = preprocessSoftmaxScaling(1, LOGIT_SCALE, 5)!;
  const xent = { multiplier: s.multiplier, leftShift: s.shift, diffMin: 0 - calculateInputRadius(5, s.shift) };
  const factors = fixedFactors(sW.map((x) => S_X / x)); // the input scale times QAS's 1 / s_W
  const sgd = sgdInt(lr, stochastic);
  let w = weights.slice();
  let changed = 0;
  const losses: number[] = [];
  for (const { x, label } of data) {
    const r = softmaxXentInt(logitsOf(w, sW, x), xent, label, bits);
    losses.push(r.loss / 65536);
    // dL/dlogit_real = g; the FC's output gradient is the logit gradient (LOGIT_SCALE folds into it)
    const next = fcUpdateInt(1, D, K, x, 0, w, factors, K, r.grad, sgd);
    changed += next.reduce((n, v, i) => n + (v !== w[i] ? 1 : 0), 0) / next.length;
    w = next;
  }
  const accuracy = test.filter(({ x, label }) => {
    const l = logitsOf(w, sW, x);
    return l.indexOf(Math.max(...l)) === label;
  }).length / test.length;
  const tail = losses.slice(-TAIL);
  return { changedPerStep: changed / data.length, loss: tail.reduce((a, b) => a + b, 0) / tail.length, accuracy, moved: w.filter((v, i) => v !== weights[i]).length / w.length };
}

describe('rounding of the integer update', () => {
  it('stochastic rounding keeps small updates alive where rounding to nearest drops them', () => {
    const lines = ['grad  lr       rounding    changed/step  ever moved  loss(last 200)  accuracy'];
    const results = new Map<string, ReturnType<typeof fineTune>>();
    const runs: [Bits, number][] = [[16, 0.0002], [16, 0.001], [16, 0.005], [16, 0.02], [8, 0.001], [8, 0.005]];
    for (const [bits, lr] of runs) {
      for (const stochastic of [false, true]) {
        const r = fineTune(lr, stochastic, 7, bits);
        results.set(`${bits}:${lr}:${stochastic}`, r);
        lines.push(`i${bits.toString().padEnd(4)} ${lr.toString().padEnd(8)} ${(stochastic ? 'stochastic' : 'nearest').padEnd(11)} ${(100 * r.changedPerStep).toFixed(2).padStart(11)}% ${(100 * r.moved).toFixed(1).padStart(10)}% ${r.loss.toFixed(4).padStart(15)} ${(100 * r.accuracy).toFixed(1).padStart(8)}%`);
      }
    }
    const before = fineTune(0, false, 7);
    lines.push(`untrained: loss ${before.loss.toFixed(4)}, accuracy ${(100 * before.accuracy).toFixed(1)}%`);
    console.log(lines.join('\n'));
    const small = (stochastic: boolean) => results.get(`16:0.0002:${stochastic}`)!;
    // at the smallest rate, stochastic rounding moves weights and lowers the loss; nearest rounding moves fewer and learns less
    expect(small(true).changedPerStep).toBeGreaterThan(small(false).changedPerStep);
    expect(small(true).loss).toBeLessThan(small(false).loss);
    expect(small(true).loss).toBeLessThan(before.loss);
  });
});
