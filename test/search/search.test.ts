/**
 * The scheme search on synthetic contributions with a fake planner (non-additive memory: a peak plus
 * parameters), checked against brute force; and the budget sizes people write.
 */
import { describe, expect, it } from 'vitest';
import { McutrainError } from '../../src/errors.ts';
import { parseBytes } from '../../src/search/budget.ts';
import { combinationKey, paretoFront, searchScheme, type Combination, type Gains } from '../../src/search/search.ts';
import { CHANNEL_FRACTIONS } from '../../src/train/scheme.ts';

describe('budget sizes', () => {
  it.each([
    ['262144', 262144], ['256KiB', 262144], ['256kib', 262144], ['256KB', 256000], ['256 kB', 256000], ['0.25MiB', 262144],
    ['1MB', 1_000_000], ['100B', 100], ['1.5KiB', 1536], ['256K', 262144],
  ])('reads %j as %d bytes', (text, bytes) => expect(parseBytes(text)).toBe(bytes));

  it.each(['', 'lots', '256 GiB', '-5KiB', '0', '0.0001B', '1e5'])('rejects %j', (text) => {
    expect(() => parseBytes(text)).toThrow(McutrainError);
  });
});

// Six weighted layers, 0..5. Training reaches back to the earliest trained layer, so the "arena" is a
// peak over the layers the backward pass runs through, not a sum; parameters add up.
const LAYERS = 6;
const ACT = [9000, 7000, 5000, 3000, 2000, 1000];
const PARAMS = [400, 900, 1600, 2500, 3600, 800];
function fakeMemory(c: Combination): number {
  const first = Math.min(LAYERS - c.biasLast, ...c.weights.map((w) => w.layer));
  const arena = Math.max(...ACT.slice(first)) * 2;
  const params = c.weights.reduce((s, w) => s + PARAMS[w.layer] * w.fraction, 0) + c.biasLast * 40;
  return 4000 + arena + params;
}

const GAINS: Gains = {
  bias: [0, 0.02, 0.03, 0.035, 0.03, 0.04, 0.041],
  weights: [
    { layer: 2, gains: [{ fraction: 0.125, gain: 0.01 }, { fraction: 0.25, gain: 0.015 }, { fraction: 0.5, gain: 0.012 }, { fraction: 1, gain: 0.02 }] },
    { layer: 3, gains: [{ fraction: 0.125, gain: 0.02 }, { fraction: 0.25, gain: 0.03 }, { fraction: 0.5, gain: 0.045 }, { fraction: 1, gain: 0.05 }] },
    { layer: 4, gains: [{ fraction: 0.125, gain: -0.01 }, { fraction: 0.25, gain: 0.02 }, { fraction: 0.5, gain: 0.025 }, { fraction: 1, gain: 0.03 }] },
    { layer: 5, gains: [{ fraction: 0.125, gain: 0.05 }, { fraction: 0.25, gain: 0.08 }, { fraction: 0.5, gain: 0.09 }, { fraction: 1, gain: 0.1 }] },
  ],
};

/** Every combination, its gain: the reference the search must match. */
function bruteForce(gains: Gains, budget: number, memoryOf: (c: Combination) => number): { gain: number; bytes: number } {
  let best = { gain: 0, bytes: 0 };
  const choices = [0, ...CHANNEL_FRACTIONS];
  const layers = gains.weights;
  const total = choices.length ** layers.length;
  for (let k = 0; k < gains.bias.length; k++) {
    for (let code = 0; code < total; code++) {
      let rest = code;
      const weights = layers.map((w) => {
        const f = choices[rest % choices.length];
        rest = Math.floor(rest / choices.length);
        return { layer: w.layer, fraction: f };
      }).filter((w) => w.fraction > 0);
      if (k === 0 && weights.length === 0) continue;
      const gain = gains.bias[k] + weights.reduce((s, w) => s + layers.find((l) => l.layer === w.layer)!.gains.find((g) => g.fraction === w.fraction)!.gain, 0);
      const bytes = memoryOf({ biasLast: k, weights });
      if (bytes <= budget && gain > best.gain + 1e-12) best = { gain, bytes };
    }
  }
  return best;
}

describe('searchScheme', () => {
  it.each([14_000, 16_500, 19_000, 23_000, 30_000])('finds the best combination within %d B, priced by the memory function', (budget) => {
    const priced: string[] = [];
    const memoryOf = (c: Combination) => {
      priced.push(combinationKey(c));
      return fakeMemory(c);
    };
    const r = searchScheme(GAINS, budget, memoryOf);
    const reference = bruteForce(GAINS, budget, fakeMemory);
    expect(r.exhaustive).toBe(true);
    expect(r.best).toBeDefined();
    expect(r.best!.bytes).toBe(fakeMemory(r.best!.combination));
    expect(r.best!.bytes).toBeLessThanOrEqual(budget);
    expect(r.best!.gain).toBeCloseTo(reference.gain, 12);
    // The chosen combination itself was priced (never a sum of its parts), and each combination once.
    expect(priced).toContain(combinationKey(r.best!.combination));
    expect(new Set(priced).size).toBe(priced.length);
    // Each layer once, at most one fraction.
    const layers = r.best!.combination.weights.map((w) => w.layer);
    expect(new Set(layers).size).toBe(layers.length);
  });

  it('reports a Pareto front: memory and gain both rising, the chosen point on it', () => {
    const r = searchScheme(GAINS, 19_000, fakeMemory);
    expect(r.front.length).toBeGreaterThan(2);
    for (let i = 1; i < r.front.length; i++) {
      expect(r.front[i].bytes).toBeGreaterThan(r.front[i - 1].bytes);
      expect(r.front[i].gain).toBeGreaterThan(r.front[i - 1].gain);
    }
    expect(r.front.map((p) => combinationKey(p.combination))).toContain(combinationKey(r.best!.combination));
  });

  it('never takes an option that gains nothing, and finds nothing when nothing gains', () => {
    const r = searchScheme(GAINS, 1e9, fakeMemory);
    const w4 = r.best!.combination.weights.find((w) => w.layer === 4);
    expect(w4?.fraction).not.toBe(0.125);
    const losing: Gains = { bias: [0, -0.01, -0.02], weights: [{ layer: 5, gains: [{ fraction: 1, gain: 0 }] }] };
    expect(searchScheme(losing, 1e9, fakeMemory).best).toBeUndefined();
  });

  it('stops at its evaluation cap with the greedy answer, within the budget', () => {
    const r = searchScheme(GAINS, 23_000, fakeMemory, { maxEvaluations: 12 });
    expect(r.exhaustive).toBe(false);
    expect(r.best!.bytes).toBeLessThanOrEqual(23_000);
  });

  it('prices few combinations in its greedy pass (a planner call can take seconds)', () => {
    let calls = 0;
    const options = GAINS.weights.reduce((n, w) => n + w.gains.length, 0) + GAINS.bias.length - 1;
    const r = searchScheme(GAINS, 23_000, (c) => {
      calls++;
      return fakeMemory(c);
    }, { maxEvaluations: 0 });
    expect(r.best!.bytes).toBeLessThanOrEqual(23_000);
    expect(calls).toBeLessThanOrEqual(3 * options);
  });

  it('keeps only non-dominated points', () => {
    const p = (gain: number, bytes: number) => ({ combination: { biasLast: 1, weights: [] }, gain, bytes });
    expect(paretoFront([p(0.1, 100), p(0.05, 200), p(0.2, 300), p(0.2, 400), p(-1, 10)]).map((x) => [x.gain, x.bytes])).toEqual([[0.1, 100], [0.2, 300]]);
  });
});
