/**
 * The scheme search: which biases and weights to train so that the summed contribution (accuracy gain
 * measured per candidate, src/search/contribution.ts) is largest while the planned peak SRAM stays
 * within the budget. As in the paper the biases are a suffix ("bias of the last k layers", one gain
 * per k) and each layer's weights take at most one channel fraction.
 *
 * Memory is not additive (the arena is a peak, not a sum), so every combination the search considers
 * is priced by `memoryOf` (the planner, via analyzeModel); candidates' own memories are never summed.
 * The search assumes only that training more never takes less memory (monotone), which lets it drop a
 * branch as soon as its partial choice is over budget. A greedy pass by gain per byte finds a good
 * choice quickly; a branch and bound then proves it optimal or improves it, within an evaluation cap.
 */
import { CHANNEL_FRACTIONS, type WeightUpdate } from '../train/scheme.ts';

/** What to train: biases of the last `biasLast` weighted layers and some layers' weights. */
export interface Combination {
  biasLast: number;
  /** Absolute weighted-layer indices, ascending, one fraction each. */
  weights: WeightUpdate[];
}

export interface WeightGains {
  layer: number;
  /** Gain of training this layer's weights alone, per channel fraction. */
  gains: { fraction: number; gain: number }[];
}

export interface Gains {
  /** bias[k] = gain of training the biases of the last k layers (bias[0] = 0). */
  bias: number[];
  weights: WeightGains[];
}

export interface Point {
  combination: Combination;
  gain: number;
  bytes: number;
}

export interface SearchResult {
  /** The best combination within the budget; undefined when nothing with a positive gain fits. */
  best: Point | undefined;
  /** Evaluated combinations no other evaluated one beats in both gain and memory, by memory. */
  front: Point[];
  evaluations: number;
  /** Whether the branch and bound finished (the best is then optimal for the gains given). */
  exhaustive: boolean;
}

export type MemoryOf = (c: Combination) => number;

export interface SearchOptions {
  /** Most planner evaluations the branch and bound may spend after the greedy pass (default 2000). */
  maxEvaluations?: number;
}

/** The key of a combination (also its inline scheme spelling, without the hyperparameters). */
export function combinationKey(c: Combination): string {
  const parts: string[] = [];
  if (c.biasLast > 0) parts.push(`bias:last=${c.biasLast}`);
  if (c.weights.length > 0) parts.push(`weights:layers=${c.weights.map((w) => (w.fraction === 1 ? `${w.layer}` : `${w.layer}@1/${1 / w.fraction}`)).join(',')}`);
  return parts.join(',') || 'nothing';
}

/** One decision of the search: the bias suffix, or one layer's weights; options exclude "nothing". */
interface Decision {
  options: { value: number; gain: number }[];
}

/**
 * Options worth considering: a positive gain above every smaller option's (with memory monotone, a
 * larger option that gains no more is never better).
 */
function usefulOptions(options: { value: number; gain: number }[]): { value: number; gain: number }[] {
  const out: { value: number; gain: number }[] = [];
  let bestSoFar = 0;
  for (const o of [...options].sort((a, b) => a.value - b.value)) {
    if (o.gain > bestSoFar) {
      out.push(o);
      bestSoFar = o.gain;
    }
  }
  return out;
}

export function searchScheme(gains: Gains, budget: number, memoryOf: MemoryOf, opts: SearchOptions = {}): SearchResult {
  const maxEvaluations = opts.maxEvaluations ?? 2000;
  const memo = new Map<string, Point>();
  const evaluate = (values: number[]): Point => {
    const combination = toCombination(values);
    const key = combinationKey(combination);
    let p = memo.get(key);
    if (!p) {
      // Training nothing is no scheme (the planner refuses it); it is the search's starting point at 0 bytes.
      const nothing = values.every((v) => v === 0);
      p = { combination, gain: gainOf(values), bytes: nothing ? 0 : memoryOf(combination) };
      memo.set(key, p);
    }
    return p;
  };

  // Decision 0 is the bias suffix; decision i > 0 the weights of gains.weights[i - 1]. 0 = not trained.
  const decisions: Decision[] = [
    { options: usefulOptions(gains.bias.map((gain, k) => ({ value: k, gain })).filter((o) => o.value > 0)) },
    ...gains.weights.map((w) => ({ options: usefulOptions(w.gains.map((g) => ({ value: g.fraction, gain: g.gain }))) })),
  ];
  for (const w of gains.weights) {
    for (const g of w.gains) if (!CHANNEL_FRACTIONS.includes(g.fraction as (typeof CHANNEL_FRACTIONS)[number])) throw new Error(`fraction ${g.fraction} of layer ${w.layer}`);
  }
  const toCombination = (values: number[]): Combination => ({
    biasLast: values[0],
    weights: gains.weights.map((w, i) => ({ layer: w.layer, fraction: values[i + 1] })).filter((w) => w.fraction > 0).sort((a, b) => a.layer - b.layer),
  });
  const gainOf = (values: number[]): number =>
    decisions.reduce((s, d, i) => s + (d.options.find((o) => o.value === values[i])?.gain ?? 0), 0);
  const none = decisions.map(() => 0);

  // Options that do not fit on their own never fit in company (monotone memory).
  for (const [i, d] of decisions.entries()) {
    d.options = d.options.filter((o) => evaluate(none.map((v, j) => (j === i ? o.value : v))).bytes <= budget);
  }

  // Greedy: take upgrades in order of gain per byte, each priced by the planner together with what is
  // already taken; the bytes in the ratio are the option's own SRAM above the cheapest option's (an
  // ordering only, never a feasibility test). An upgrade over budget stays over budget as more is taken,
  // so it is dropped: at most two planner calls per option.
  const alone = (i: number, value: number) => (value === 0 ? 0 : evaluate(none.map((v, j) => (j === i ? value : v))).bytes);
  const floor = Math.min(...decisions.flatMap((d, i) => d.options.map((o) => alone(i, o.value))));
  const dropped = new Set<string>();
  let current = [...none];
  let best: Point | undefined;
  for (;;) {
    const upgrades = decisions.flatMap((d, i) => {
      const now = d.options.find((o) => o.value === current[i]);
      return d.options
        .filter((o) => o.gain > (now?.gain ?? 0) && !dropped.has(`${i}:${o.value}`))
        .map((o) => ({ i, value: o.value, ratio: (o.gain - (now?.gain ?? 0)) / Math.max(1, alone(i, o.value) - Math.max(floor, now ? alone(i, now.value) : floor)) }));
    }).sort((a, b) => b.ratio - a.ratio);
    const taken = upgrades.find((u) => {
      if (evaluate(current.map((v, j) => (j === u.i ? u.value : v))).bytes <= budget) return true;
      dropped.add(`${u.i}:${u.value}`);
      return false;
    });
    if (!taken) break;
    current = current.map((v, j) => (j === taken.i ? taken.value : v));
    best = evaluate(current);
  }
  const greedyEvaluations = memo.size;

  // Branch and bound over the decisions, most valuable first; the greedy result is the incumbent.
  const order = decisions.map((_, i) => i).sort((a, b) => maxGain(decisions[b]) - maxGain(decisions[a]));
  const rest = order.map((_, k) => order.slice(k).reduce((s, i) => s + maxGain(decisions[i]), 0));
  let exhaustive = true;
  const branch = (k: number, values: number[], gain: number): void => {
    if (!exhaustive) return;
    // Equal gains stay in the race: the smaller memory wins a tie.
    if (gain + (rest[k] ?? 0) < (best?.gain ?? 0) - EPS) return;
    if (k === order.length) {
      const p = evaluate(values);
      if (p.bytes <= budget && better(p, best)) best = p;
      return;
    }
    const i = order[k];
    for (const o of [...decisions[i].options].sort((a, b) => b.gain - a.gain)) {
      if (memo.size - greedyEvaluations >= maxEvaluations) {
        exhaustive = false;
        return;
      }
      const next = values.map((v, j) => (j === i ? o.value : v));
      if (evaluate(next).bytes > budget) continue;
      branch(k + 1, next, gain + o.gain);
    }
    branch(k + 1, values, gain);
  };
  branch(0, [...none], 0);

  return { best: best && best.gain > 0 ? best : undefined, front: paretoFront([...memo.values()]), evaluations: memo.size, exhaustive };
}

const EPS = 1e-12;

/** More gain, or the same gain in less memory. */
function better(p: Point, than: Point | undefined): boolean {
  if (!than) return p.gain > EPS;
  return p.gain > than.gain + EPS || (Math.abs(p.gain - than.gain) <= EPS && p.bytes < than.bytes);
}

function maxGain(d: Decision): number {
  return Math.max(0, ...d.options.map((o) => o.gain));
}

/** Points not beaten in both gain and memory by another (ties keep the smaller memory), by memory. */
export function paretoFront(points: Point[]): Point[] {
  const sorted = [...points].filter((p) => p.gain > 0).sort((a, b) => a.bytes - b.bytes || b.gain - a.gain);
  const front: Point[] = [];
  for (const p of sorted) if (front.length === 0 || p.gain > front[front.length - 1].gain + EPS) front.push(p);
  return front;
}
