/**
 * Calibration: runs sample inputs through the float reference and chooses, for every activation tensor,
 * the real range [min, max] its int8 quantization will cover.
 *
 * Methods:
 *   minmax      the smallest and largest value seen over all samples (what the TFLite converter does)
 *   percentile  clip both tails at the given percentile of all values seen (e.g. 99.99): outliers no
 *               longer stretch the scale
 *   mse         the clipping of the observed range that minimizes the expected squared quantization
 *               error (rounding inside the range plus clipping outside), on a histogram of the values
 * percentile and mse need the observed range first, so they run the samples twice.
 *
 * Graph inputs always keep their observed min/max: their range is a property of the data (pixels in
 * [0, 1]), and clipping it would saturate valid inputs. Outputs of operators with a fused activation
 * (and of RELU / RELU6) are clamped to the activation's range, as the converter sees them after the
 * activation.
 */
import { McutrainError } from '../errors.ts';
import type { Graph, Operator } from '../ir/graph.ts';
import { fusedActivationBounds } from './activation_bounds.ts';

export type RangeMethod = 'minmax' | 'percentile' | 'mse';
export const RANGE_METHODS: readonly RangeMethod[] = ['minmax', 'percentile', 'mse'];

export interface CalibrationOptions {
  /** Default 'minmax'. */
  method?: RangeMethod;
  /** For 'percentile': the percentile kept on each side, in (50, 100]. Default 99.99. */
  percentile?: number;
  /** Histogram bins for 'percentile' and 'mse'. Default 2048. */
  bins?: number;
  /** Called after each sample of each pass. */
  onProgress?: (done: number, total: number) => void;
}

export interface TensorRange {
  min: number;
  max: number;
}

export interface Calibration {
  /** The graph's name, for reports. */
  graph: string;
  method: RangeMethod;
  /** The percentile used (method 'percentile' only). */
  percentile?: number;
  samples: number;
  /** Chosen range per tensor id: every graph input and every tensor an operator computes. */
  ranges: Map<number, TensorRange>;
  /** The raw min/max seen per tensor id, before any clipping. */
  observed: Map<number, TensorRange>;
}

export const DEFAULT_PERCENTILE = 99.99;
const DEFAULT_BINS = 2048;

/** Runs every sample (one Float32Array per graph input) through `graph` and returns the chosen ranges. */
export async function calibrate(graph: Graph, samples: readonly (readonly Float32Array[])[], options: CalibrationOptions = {}): Promise<Calibration> {
  const method = options.method ?? 'minmax';
  if (!RANGE_METHODS.includes(method)) {
    throw new McutrainError(`unknown calibration method '${method}'`, `use one of: ${RANGE_METHODS.join(', ')}`);
  }
  const percentile = options.percentile ?? DEFAULT_PERCENTILE;
  if (method === 'percentile' && !(percentile > 50 && percentile <= 100)) {
    throw new McutrainError(`calibration percentile ${percentile} is out of range`, 'give a percentile above 50 and at most 100, e.g. 99.99');
  }
  const bins = options.bins ?? DEFAULT_BINS;
  if (!Number.isInteger(bins) || bins < 16) throw new McutrainError(`histogram bins ${bins} must be an integer of at least 16`, 'the default, 2048, suits most models');
  if (samples.length === 0) {
    throw new McutrainError('calibration needs at least one sample', 'give a folder of representative inputs (a few hundred images is typical)');
  }

  const passes = method === 'minmax' ? 1 : 2;
  const total = samples.length * passes;
  // tfjs-core takes ~0.15 s of CPU to load: loaded when a float model is calibrated, not as every command starts.
  const { createFloatReference } = await import('./float_reference.ts');
  const ref = await createFloatReference(graph);
  try {
    const observed = new Map<number, TensorRange>();
    samples.forEach((sample, i) => {
      for (const [id, values] of ref.run(sample)) {
        const r = observed.get(id);
        let { min, max } = r ?? { min: Infinity, max: -Infinity };
        let finite = true;
        for (let k = 0; k < values.length; k++) {
          const v = values[k];
          if (v < min) min = v;
          if (v > max) max = v;
          if (v !== v) finite = false; // NaN compares false with everything
        }
        if (values.length === 0) continue;
        if (!finite || !Number.isFinite(min) || !Number.isFinite(max)) {
          throw new McutrainError(`tensor '${graph.tensors[id].name}' took a value that is not finite on calibration sample ${i + 1}`,
            'check the samples\' preprocessing (--pixel-range) and the float model');
        }
        observed.set(id, { min, max });
      }
      options.onProgress?.(i + 1, total);
    });

    const ranges = new Map<number, TensorRange>();
    const inputs = new Set(graph.inputs);
    if (method === 'minmax') {
      for (const [id, r] of observed) ranges.set(id, { ...r });
    } else {
      const histograms = new Map<number, Histogram>();
      for (const [id, r] of observed) if (!inputs.has(id)) histograms.set(id, new Histogram(r.min, r.max, bins));
      samples.forEach((sample, i) => {
        for (const [id, values] of ref.run(sample)) histograms.get(id)?.add(values);
        options.onProgress?.(samples.length + i + 1, total);
      });
      for (const [id, r] of observed) {
        const h = histograms.get(id);
        ranges.set(id, !h ? { ...r } : method === 'percentile' ? percentileRange(h, percentile) : mseRange(h));
      }
    }
    clampToActivations(graph, ranges);
    return { graph: graph.name, method, ...(method === 'percentile' ? { percentile } : {}), samples: samples.length, ranges, observed };
  } finally {
    ref.dispose();
  }
}

/** Intersects each operator output's range with what its (fused) activation can produce. */
function clampToActivations(graph: Graph, ranges: Map<number, TensorRange>): void {
  for (const op of graph.operators) {
    const bounds = activationBounds(op);
    const r = ranges.get(op.outputs[0]);
    if (!r || !bounds) continue;
    if (bounds.min !== undefined) r.min = Math.max(r.min, bounds.min);
    if (bounds.max !== undefined) r.max = Math.min(r.max, bounds.max);
    if (r.max < r.min) r.max = r.min;
  }
}

function activationBounds(op: Operator): { min?: number; max?: number } | undefined {
  if (op.kind === 'RELU') return { min: 0 };
  if (op.kind === 'RELU6') return { min: 0, max: 6 };
  const options = op.options as { activation?: Parameters<typeof fusedActivationBounds>[0] };
  return options.activation ? fusedActivationBounds(options.activation) : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Histograms

/** Counts of values in `bins` equal bins over [min, max] (values outside land in the end bins). */
export class Histogram {
  readonly counts: Float64Array;
  total = 0;

  constructor(readonly min: number, readonly max: number, bins: number) {
    this.counts = new Float64Array(bins);
  }

  get width(): number {
    return (this.max - this.min) / this.counts.length;
  }

  add(values: ArrayLike<number>): void {
    const n = this.counts.length;
    const scale = this.max > this.min ? n / (this.max - this.min) : 0;
    for (let i = 0; i < values.length; i++) {
      const b = Math.floor((values[i] - this.min) * scale);
      this.counts[b < 0 ? 0 : b >= n ? n - 1 : b]++;
    }
    this.total += values.length;
  }

  /** The value below which a fraction `q` of the counts lie (linear within a bin). */
  quantile(q: number): number {
    if (this.total === 0 || this.max === this.min) return q < 0.5 ? this.min : this.max;
    const target = q * this.total;
    let below = 0;
    for (let b = 0; b < this.counts.length; b++) {
      const c = this.counts[b];
      if (below + c >= target && c > 0) return this.min + (b + (target - below) / c) * this.width;
      below += c;
    }
    return this.max;
  }
}

/** Both tails clipped at `percentile` (e.g. 99.99 keeps the middle 99.98%), never beyond what was seen. */
export function percentileRange(h: Histogram, percentile: number): TensorRange {
  const tail = 1 - percentile / 100;
  const min = Math.max(h.min, Math.min(h.quantile(tail), h.max));
  const max = Math.min(h.max, Math.max(h.quantile(1 - tail), min));
  return { min, max };
}

/**
 * The range, among the observed one shrunk by a factor in (0, 1] towards zero, with the least expected
 * squared error: values inside round to steps of (max - min) / 255 (error step^2 / 12 each); values
 * outside are clipped to the nearest end. Bin centres stand in for the values.
 */
export function mseRange(h: Histogram, steps = 200): TensorRange {
  const lo = Math.min(h.min, 0);
  const hi = Math.max(h.max, 0);
  if (h.total === 0 || hi === lo) return { min: h.min, max: h.max };
  let best = { min: h.min, max: h.max };
  let bestError = Infinity;
  for (let k = steps; k >= 1; k--) {
    const f = k / steps;
    const min = lo * f;
    const max = hi * f;
    const step = (max - min) / 255;
    let error = 0;
    for (let b = 0; b < h.counts.length; b++) {
      const c = h.counts[b];
      if (c === 0) continue;
      const v = h.min + (b + 0.5) * h.width;
      const d = v < min ? min - v : v > max ? v - max : 0;
      error += c * (d === 0 ? (step * step) / 12 : d * d);
    }
    // Ties keep the wider range (checked first).
    if (error < bestError) {
      bestError = error;
      best = { min: Math.max(min, h.min), max: Math.min(max, h.max) };
    }
  }
  return best;
}
