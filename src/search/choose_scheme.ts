/**
 * Choosing a training scheme automatically: price every candidate with the planner, measure the
 * contributions of those that fit the budget on their own, then search the best combination under the
 * budget. Shared by `mcutrain scheme`, `mcutrain compile --train auto` and experiments/scheme_search.ts.
 */
import path from 'node:path';
import { McutrainError } from '../errors.ts';
import type { LabelledSet } from '../data/labelled.ts';
import { DEFAULT_NUMERICS, parseNumerics, type Numerics } from '../lower/numerics.ts';
import { parsePatchMode } from '../plan/patch_stage.ts';
import { inRange } from '../util/option_values.ts';
import { analyzeModel, buildSram, fitWithin, importChecked } from '../pipeline/pipeline.ts';
import { readModelFile, type PatchMode } from '../project/compile_project.ts';
import { fitVerdict, type FitVerdict } from '../project/fit.ts';
import { ioTensorInfo, type IoTensorInfo } from '../ir/io_tensor.ts';
import { loadTarget, mcuOf, type Target } from '../targets/target.ts';
import type { SramBudget } from '../train/memory_report.ts';
import { validateScheme, type ArithType, type TrainingScheme } from '../train/scheme.ts';
import { defaultArith } from '../train/integer_arith.ts';
import { trainableLayers } from '../train/training_graph.ts';
import { candidateCombination, candidateKey, candidatesFor, checkHyper, gainsOf, measureContributions, type Candidate, type ContributionReport, type Hyper } from './contribution.ts';
import { combinationKey, searchScheme, type Combination, type Point } from './search.ts';

/** Which weighted layers are candidates: the last N, or all. */
export type LayerSelection = { last: number } | 'all';

export function parseLayerSelection(text: string): LayerSelection {
  if (text === 'all') return 'all';
  const m = text.match(/^last:(\d+)$/);
  if (!m || Number(m[1]) < 1) throw new McutrainError(`--layers must be last:N (N >= 1) or all, not '${text}'`);
  return { last: Number(m[1]) };
}

/** What reading data for a model needs: its input, classes and weighted layers. */
export interface ModelInfo {
  input: IoTensorInfo;
  classes: number;
  layers: number;
}

export function modelInfo(bytes: Uint8Array, name: string): ModelInfo {
  const graph = importChecked(bytes, name);
  const { layers, classes } = trainableLayers(graph);
  return { input: ioTensorInfo(graph.tensors[graph.inputs[0]]), classes, layers: layers.length };
}

export interface ChooseOptions {
  modelPath: string;
  /** The board whose SRAM accounting (stack, link buffers) the budget is checked with. */
  target: string;
  budget: number;
  train: LabelledSet;
  val: LabelledSet;
  layers: LayerSelection;
  hyper: Hyper;
  cacheFile: string;
  numerics?: Numerics;
  /** As compile's: the memory priced must be the memory compiled. */
  patches?: PatchMode;
  /** The training arithmetic the candidates are priced in (absent: the target's default, as compile's). */
  arith?: ArithType;
  concurrency?: number;
  /** Planner calls the branch and bound may make (default: about two minutes' worth, 20 to 2000). */
  maxEvaluations?: number;
  /** Pricing ("pricing <candidate>"), measuring, then "searching". */
  onProgress?: (done: number, total: number, note: string) => void;
}

export interface CandidateRow {
  candidate: Candidate;
  key: string;
  /** Planned SRAM of training this candidate alone. */
  bytes: number;
  /** Measured gain; undefined when the candidate alone exceeds the budget (not measured). */
  gain?: number;
  accuracy?: number;
  ms?: number;
  cached?: boolean;
}

export interface ChooseResult {
  scheme: TrainingScheme;
  chosen: Point;
  /** The planner's SRAM breakdown of the chosen scheme. */
  sram: SramBudget;
  /** How the chosen scheme fits the target (the verdict compile gives). */
  fit: FitVerdict;
  budget: number;
  target: Target;
  baseline: number;
  candidates: CandidateRow[];
  /** Candidates the model cannot train (no bias, weights not int8), with the reason. */
  skipped: { key: string; reason: string }[];
  front: Point[];
  evaluations: number;
  exhaustive: boolean;
  contributions: ContributionReport;
  /** The planner's total SRAM of any combination, with the scheme's options (memoized). */
  sramOf: (c: Combination) => number;
  /** Set when no combination gains accuracy and the least bad single candidate was taken. */
  warning?: string;
}

/** The planner's SRAM of a scheme on a target, from one analyzeModel (no build); `budget` is what patches 'fit' meets. */
export function plannedSram(bytes: Uint8Array, name: string, target: Target, scheme: TrainingScheme, numerics: Numerics = DEFAULT_NUMERICS,
  patches?: PatchMode, budget?: number): SramBudget {
  return buildSram(analyzeModel(bytes, name, numerics, scheme, { patches, fitWithin: fitWithin(target, budget) }), target);
}

/**
 * The scheme of a combination under the search's options, in the arithmetic it will be built with (the integer
 * engine's gradients and memory differ); the options are checked against the arithmetic once, before the search.
 */
export function searchSchemes(hyper: Pick<Hyper, 'qas' | 'momentum' | 'lr' | 'grad'>, arith: ArithType): (c: Combination) => TrainingScheme {
  const schemeOf = (c: Combination): TrainingScheme => validateScheme({ ...c, qas: hyper.qas, momentum: hyper.momentum, lr: hyper.lr, grad: hyper.grad, arith });
  schemeOf({ biasLast: 1, weights: [] });
  return schemeOf;
}

export async function chooseScheme(opts: ChooseOptions): Promise<ChooseResult> {
  const bytes = readModelFile(opts.modelPath);
  const name = path.basename(opts.modelPath);
  const target = loadTarget(opts.target);
  // The options are checked before the slow part starts, as the command line checks its flags.
  const numerics = parseNumerics(opts.numerics);
  parsePatchMode(opts.patches, true);
  checkHyper(opts.hyper);
  if (!inRange(opts.budget, { integer: true, min: 1 })) throw new McutrainError(`the budget must be a whole number of bytes above 0, not ${opts.budget}`);
  const sramCapacity = target.kind === 'mcu' ? mcuOf(target).sram.bytes : Infinity;
  const budget = Math.min(opts.budget, sramCapacity);
  const info = modelInfo(bytes, name);
  const count = opts.layers === 'all' ? info.layers : Math.min(opts.layers.last, info.layers);
  const layers = Array.from({ length: count }, (_, k) => info.layers - count + k);
  const schemeOf = searchSchemes(opts.hyper, opts.arith ?? defaultArith(target));
  const memo = new Map<string, number>();
  const memoryOf = (c: Combination): number => {
    const key = combinationKey(c);
    let m = memo.get(key);
    if (m === undefined) memo.set(key, (m = plannedSram(bytes, name, target, schemeOf(c), numerics, opts.patches, budget).totalBytes));
    return m;
  };

  // Price every candidate alone; one the model cannot train is skipped, one over the budget is not measured.
  const rows: CandidateRow[] = [];
  const skipped: { key: string; reason: string }[] = [];
  const all = candidatesFor(layers);
  const pricingStarted = performance.now();
  for (const [n, candidate] of all.entries()) {
    const key = candidateKey(candidate);
    opts.onProgress?.(n, all.length, `pricing ${key}`);
    try {
      rows.push({ candidate, key, bytes: memoryOf(candidateCombination(candidate)) });
    } catch (e) {
      if (!(e instanceof McutrainError)) throw e;
      skipped.push({ key, reason: e.message });
    }
  }
  if (rows.length === 0) throw new McutrainError(`no candidate of the last ${count} layers of '${name}' can be trained: ${skipped[0]?.reason ?? 'none'}`, 'widen --layers');
  const smallest = rows.reduce((a, b) => (b.bytes < a.bytes ? b : a));
  if (smallest.bytes > budget) {
    const capped = budget < opts.budget ? ` (capped at ${target.name}'s SRAM)` : '';
    throw new McutrainError(
      `no scheme fits the budget of ${budget} B${capped}: the smallest candidate (${smallest.key}) needs ${smallest.bytes} B (${(smallest.bytes / 1024).toFixed(1)} KiB) on ${target.name}`,
      `raise --budget to at least ${Math.ceil(smallest.bytes / 1024)}KiB, or consider more layers (--layers)`);
  }

  const measured = rows.filter((r) => r.bytes <= budget);
  const contributions = await measureContributions({
    modelPath: opts.modelPath, train: opts.train, val: opts.val, candidates: measured.map((r) => r.candidate), hyper: opts.hyper,
    cacheFile: opts.cacheFile, concurrency: opts.concurrency, onProgress: opts.onProgress,
  });
  for (const r of contributions.results) Object.assign(rows.find((row) => row.key === r.key)!, { gain: r.gain, accuracy: r.accuracy, ms: r.ms, cached: r.cached });

  // The branch and bound may spend about two minutes of planner time (a large model takes seconds per call).
  const msPerPrice = (performance.now() - pricingStarted) / all.length;
  const maxEvaluations = opts.maxEvaluations ?? Math.max(20, Math.min(2000, Math.round(120_000 / msPerPrice)));
  opts.onProgress?.(0, 1, 'searching');
  const search = searchScheme(gainsOf(contributions.results), budget, memoryOf, { maxEvaluations });
  let chosen = search.best;
  let warning: string | undefined;
  if (!chosen) {
    // Nothing gains on the held-out samples: train the candidate that loses least, so the scheme is still usable.
    const least = measured.reduce((a, b) => ((b.gain ?? -Infinity) > (a.gain ?? -Infinity) ? b : a));
    chosen = { combination: candidateCombination(least.candidate), gain: least.gain ?? 0, bytes: least.bytes };
    warning = `no candidate improved the held-out accuracy over the untrained model (${(contributions.baseline * 100).toFixed(1)}%); ` +
      `took ${least.key}, the least bad. Try more --steps, another --lr, or more data`;
  }
  const scheme = schemeOf(chosen.combination);
  const subject = { bytes, name, numerics, scheme, options: { patches: opts.patches, fitWithin: fitWithin(target, budget) } };
  const fit = fitVerdict(analyzeModel(bytes, name, numerics, scheme, subject.options), target, subject);
  return {
    scheme, chosen, sram: fit.sram, fit, budget, target, baseline: contributions.baseline,
    candidates: rows, skipped, front: search.front, evaluations: search.evaluations, exhaustive: search.exhaustive, contributions, sramOf: memoryOf, warning,
  };
}
