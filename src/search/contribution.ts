/**
 * Contribution analysis (Lin et al. 2022, section 2.3): how much accuracy each trainable piece buys on
 * its own. A candidate is "the biases of the last k layers" or "the weights of layer i at a channel
 * fraction"; each is measured by compiling a host engine that trains just that, fine-tuning it for a
 * fixed number of samples (the same samples in the same order for every candidate) and evaluating it
 * on held-out samples. Its contribution is the accuracy gained over the untrained model.
 *
 * The host engine is bit-exact with the board, so what is measured here is what the board would learn.
 * Candidates run concurrently, one engine process each (the C compiler and the engines do the work;
 * this process only feeds them samples, so worker threads would add nothing). Results are cached in a
 * JSON file keyed by model, candidate, data and hyperparameters, written after every candidate, so a
 * rerun is cheap and an interrupted run resumes; builds are kept per scheme next to the cache.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { buildProjectAsync } from '../build/build_project.ts';
import type { LabelledSet } from '../data/labelled.ts';
import { McutrainError } from '../errors.ts';
import { openProjectDevice } from '../link/connect.ts';
import { compileModel } from '../project/compile_project.ts';
import { MANIFEST_FILE, readManifest, type ProjectManifest } from '../project/manifest.ts';
import { CHANNEL_FRACTIONS, LR_RANGE, MOMENTUM_RANGE, parseGradType, schemeToString, type GradType, type TrainingScheme } from '../train/scheme.ts';
import { numberIn, type NumberRange } from '../util/option_values.ts';
import { SEED_RANGE } from '../util/random.ts';
import { writeFileAtomic } from '../util/fs_atomic.ts';
import { evaluateOn, stepOrder, TrainingSession } from '../session/training_session.ts';
import { VERSION } from '../version.ts';
import { combinationKey, type Combination, type Gains } from './search.ts';

export type Candidate = { kind: 'bias'; last: number } | { kind: 'weights'; layer: number; fraction: number };

/** Candidates over the weighted layers `layers` (absolute indices): bias of the last 1..n, each layer's weights at every fraction. */
export function candidatesFor(layers: number[]): Candidate[] {
  return [
    ...layers.map((_, k): Candidate => ({ kind: 'bias', last: k + 1 })),
    ...layers.flatMap((layer) => CHANNEL_FRACTIONS.map((fraction): Candidate => ({ kind: 'weights', layer, fraction }))),
  ];
}

export function candidateCombination(c: Candidate): Combination {
  return c.kind === 'bias' ? { biasLast: c.last, weights: [] } : { biasLast: 0, weights: [{ layer: c.layer, fraction: c.fraction }] };
}

export const candidateKey = (c: Candidate): string => combinationKey(candidateCombination(c));

/** How each candidate is fine-tuned; part of the cache key. */
export interface Hyper {
  steps: number;
  lr: number;
  momentum: number;
  qas: boolean;
  seed: number;
  /** Gradient storage of the engines measured and of the scheme chosen (absent: f32). */
  grad?: GradType;
}

export interface MeasureOptions {
  modelPath: string;
  train: LabelledSet;
  /** Held-out samples the accuracy is measured on. */
  val: LabelledSet;
  candidates: Candidate[];
  hyper: Hyper;
  /** The JSON cache; its builds go to `<cache>.builds/`. */
  cacheFile: string;
  /** Engines at once (default: the CPU count). */
  concurrency?: number;
  onProgress?: (done: number, total: number, note: string) => void;
}

export interface CandidateResult {
  candidate: Candidate;
  key: string;
  accuracy: number;
  /** accuracy - baseline. */
  gain: number;
  /** Compile, build, fine-tune and evaluate (0 when cached). */
  ms: number;
  cached: boolean;
}

export interface ContributionReport {
  /** Held-out accuracy of the untrained model. */
  baseline: number;
  results: CandidateResult[];
  /** Wall time of this run. */
  ms: number;
}

interface CacheEntry {
  candidate: string;
  accuracy: number;
  ms: number;
}

interface CacheFile {
  mcutrain: string;
  entries: Record<string, CacheEntry>;
}

function hashSet(h: ReturnType<typeof createHash>, set: LabelledSet): void {
  h.update(`${set.samples.length}\0`);
  set.samples.forEach((s, i) => h.update(s).update(`\0${set.labels[i]}\0`));
}

/** The values Hyper's fields may take, wherever they are given (--steps, --seed, --lr, --momentum, --grad, the API). */
export const STEPS_RANGE: NumberRange = { integer: true, min: 1, max: 1_000_000 };

/** Checks `hyper` as the command line checks its flags: a bad value fails, naming itself, before anything is measured. */
export function checkHyper(hyper: Hyper): void {
  numberIn(hyper.steps, 'steps', STEPS_RANGE);
  numberIn(hyper.seed, 'seed', SEED_RANGE);
  numberIn(hyper.lr, 'lr', LR_RANGE);
  numberIn(hyper.momentum, 'momentum', MOMENTUM_RANGE);
  if (typeof hyper.qas !== 'boolean') throw new McutrainError(`qas must be true or false, not ${String(hyper.qas)}`);
  if (hyper.grad !== undefined) parseGradType(hyper.grad, 'grad');
}

/** Fingerprint of the training and held-out samples (bytes and labels, in order). */
export function dataFingerprint(train: LabelledSet, val: LabelledSet): string {
  const h = createHash('sha256');
  hashSet(h, train);
  h.update('val\0');
  hashSet(h, val);
  return h.digest('hex');
}

export function readCache(file: string): CacheFile {
  if (!existsSync(file)) return { mcutrain: VERSION, entries: {} };
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
    if (typeof json.entries !== 'object' || json.entries === null) throw new Error('no "entries"');
    return json;
  } catch (e) {
    throw new McutrainError(`the contribution cache '${file}' is not readable (${(e as Error).message})`, 'delete it, or name another with --cache');
  }
}

const cacheKey = (parts: unknown[]): string => createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);

/** Runs `fn` over `items` with at most `limit` at once; the first failure stops new work and is rethrown. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

export async function measureContributions(opts: MeasureOptions): Promise<ContributionReport> {
  const started = performance.now();
  const { hyper, train, val } = opts;
  checkHyper(hyper);
  if (train.samples.length === 0 || val.samples.length === 0) throw new McutrainError('contribution analysis needs training and held-out samples');
  const modelBytes = new Uint8Array(readFileSync(opts.modelPath));
  const modelSha = createHash('sha256').update(modelBytes).digest('hex');
  const data = dataFingerprint(train, val);
  const keyOf = (candidate: string) => cacheKey([modelSha, candidate, data, hyper.steps, hyper.lr, hyper.momentum, hyper.qas, hyper.seed,
    ...(hyper.grad && hyper.grad !== 'f32' ? [hyper.grad] : [])]); // f32 keys as before narrow gradients
  const cache = readCache(opts.cacheFile);
  const save = () => writeFileAtomic(opts.cacheFile, JSON.stringify(cache, null, 1) + '\n');
  const buildRoot = `${opts.cacheFile}.builds`;
  const order = stepOrder(train.samples.length, hyper.steps, hyper.seed);

  // One build per distinct scheme; concurrent users of the same scheme share it.
  const builds = new Map<string, Promise<{ dir: string; manifest: ProjectManifest }>>();
  const buildFor = (combination: Combination) => {
    const scheme: TrainingScheme = { ...combination, qas: hyper.qas, momentum: hyper.momentum, lr: hyper.lr, grad: hyper.grad };
    const text = schemeToString(scheme);
    const dir = path.join(buildRoot, createHash('sha256').update(`${modelSha}\0${text}\0${VERSION}\0unpatched`).digest('hex').slice(0, 16));
    let b = builds.get(dir);
    if (!b) {
      b = (async () => {
        const engine = path.join(dir, 'engine');
        if (existsSync(path.join(dir, MANIFEST_FILE)) && existsSync(engine)) {
          const m = readManifest(dir);
          if (m.model.sha256 === modelSha && m.training?.scheme === text && m.mcutrain === VERSION) return { dir, manifest: m };
        }
        // Patch-based execution changes where activations live, not the arithmetic: measuring without it is
        // the same learning, compiled faster.
        const { manifest } = compileModel({ modelPath: opts.modelPath, target: 'host', outDir: dir, train: { scheme: text }, patches: 'off' });
        await buildProjectAsync(dir);
        return { dir, manifest };
      })();
      builds.set(dir, b);
    }
    return b;
  };

  const open = async (combination: Combination) => {
    const { dir, manifest } = await buildFor(combination);
    return openProjectDevice(dir, manifest, { timeoutMs: 60_000 });
  };

  // The untrained model's accuracy, on the build of the first candidate (no update is made).
  const baselineKey = keyOf('baseline');
  const jobs: (Candidate | 'baseline')[] = [
    ...(cache.entries[baselineKey] ? [] : ['baseline' as const]),
    ...opts.candidates.filter((c) => !cache.entries[keyOf(candidateKey(c))]),
  ];
  const total = opts.candidates.length + 1;
  let done = total - jobs.length;
  const timed: Map<string, number> = new Map();
  opts.onProgress?.(done, total, done > 0 ? `${done} cached` : '');

  await pool(jobs, opts.concurrency ?? availableParallelism(), async (job) => {
    const t0 = performance.now();
    const combination = job === 'baseline' ? candidateCombination(opts.candidates[0]) : candidateCombination(job);
    const name = job === 'baseline' ? 'baseline' : candidateKey(job);
    const device = await open(combination);
    let accuracy: number;
    try {
      // The fine-tuning run: one pass over `order`, then the held-out accuracy (a diverged run just scores low).
      const session = new TrainingSession({ device, train, val, epochs: 1, orders: [order], hyper, stopWhenDiverged: false });
      await session.begin();
      accuracy = job === 'baseline' ? (await evaluateOn(device, val)).accuracy : (await session.run()).epochs[0].valAccuracy!;
    } finally {
      await device.close();
    }
    const ms = performance.now() - t0;
    cache.entries[job === 'baseline' ? baselineKey : keyOf(name)] = { candidate: name, accuracy, ms: Math.round(ms) };
    save();
    timed.set(name, ms);
    opts.onProgress?.(++done, total, `${name} ${(accuracy * 100).toFixed(1)}%`);
  });

  const baseline = cache.entries[baselineKey].accuracy;
  const results = opts.candidates.map((candidate): CandidateResult => {
    const key = candidateKey(candidate);
    const entry = cache.entries[keyOf(key)];
    return { candidate, key, accuracy: entry.accuracy, gain: entry.accuracy - baseline, ms: timed.get(key) ?? 0, cached: !timed.has(key) };
  });
  return { baseline, results, ms: performance.now() - started };
}

/** The measured gains as the search takes them: one per bias suffix, per layer and fraction. */
export function gainsOf(results: CandidateResult[]): Gains {
  const bias = [0];
  const weights = new Map<number, { fraction: number; gain: number }[]>();
  for (const r of results) {
    const c = r.candidate;
    if (c.kind === 'bias') bias[c.last] = r.gain;
    else weights.set(c.layer, [...(weights.get(c.layer) ?? []), { fraction: c.fraction, gain: r.gain }]);
  }
  // A suffix length that was not measured gains nothing.
  for (let k = 0; k < bias.length; k++) bias[k] ??= 0;
  return { bias, weights: [...weights].sort((a, b) => a[0] - b[0]).map(([layer, gains]) => ({ layer, gains })) };
}
