/**
 * Reading the JSON files a report is made from (`profile --json`, `train --json`), checked for the fields
 * the report draws, so that a wrong or truncated file is named as such, not met as a blank chart.
 */
import { readFileSync } from 'node:fs';
import { McutrainError } from '../errors.ts';
import type { ProfileData, TrainingHistory } from './report_html.ts';
import type { BenchResults } from './bench_section.ts';

function readJson(file: string, what: string, hint: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new McutrainError(`cannot read ${what} '${file}': ${(e as Error).message}`, hint);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new McutrainError(`${what} '${file}' is not JSON: ${(e as Error).message}`, hint);
  }
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const numbers = (x: Record<string, unknown>, keys: string[]) => keys.every((k) => typeof x[k] === 'number');

const PROFILE_HINT = 'write it with: mcutrain profile <dir> --json > profile.json';
const HISTORY_HINT = 'write it with: mcutrain train <dir> --data <folder> --json-out train.json';

export function readProfileJson(file: string): ProfileData {
  const p = readJson(file, 'the profile', PROFILE_HINT);
  const ok = isObject(p) && typeof p.tickUnit === 'string' && numbers(p, ['totalTicks', 'runs']) && Array.isArray(p.ops) &&
    p.ops.every((o) => isObject(o) && typeof o.kind === 'string' && numbers(o, ['index', 'macs', 'ticks', 'share']));
  if (!ok) throw new McutrainError(`'${file}' is not a profile (it lacks tickUnit, totalTicks, runs or ops[] with index, kind, macs, ticks, share)`, PROFILE_HINT);
  return { ...(p as unknown as ProfileData), target: String(p.target ?? ''), device: String(p.device ?? 'the device') };
}

export function readHistoryJson(file: string): TrainingHistory {
  const h = readJson(file, 'the training history', HISTORY_HINT);
  const ok = isObject(h) && Array.isArray(h.epochs) && h.epochs.every((e) => isObject(e) && numbers(e, ['epoch', 'trainLoss', 'trainAccuracy'])) &&
    (h.steps === undefined || (Array.isArray(h.steps) && h.steps.every((s) => isObject(s) && numbers(s, ['epoch', 'loss'])))) &&
    (h.before === undefined || (isObject(h.before) && numbers(h.before, ['loss', 'accuracy'])));
  if (!ok) throw new McutrainError(`'${file}' is not a training history (it lacks epochs[] with epoch, trainLoss, trainAccuracy)`, HISTORY_HINT);
  return h as unknown as TrainingHistory;
}

const BENCH_HINT = 'write it with: npm run bench (bench/results/latest.json)';

export function readBenchJson(file: string): BenchResults {
  const b = readJson(file, 'the benchmark results', BENCH_HINT);
  const ok = isObject(b) && Array.isArray(b.rows) &&
    b.rows.every((r) => isObject(r) && typeof r.model === 'string' && numbers(r, ['macs', 'arenaBytes', 'flashConstBytes', 'm7PortableInstructionsPerInference', 'm7DspInstructionsPerInference'])) &&
    (b.training === undefined || (isObject(b.training) && Array.isArray(b.training.models) && b.training.models.every((m) => isObject(m) && typeof m.model === 'string' && Array.isArray(m.schemes) &&
      m.schemes.every((s) => isObject(s) && typeof s.name === 'string' && isObject(s.reordered) && isObject(s.withoutReordering) && numbers(s.reordered, ['memoryBytes']) && numbers(s.withoutReordering, ['memoryBytes'])))));
  if (!ok) throw new McutrainError(`'${file}' is not benchmark results (it lacks rows[] with model, macs, arenaBytes, flashConstBytes and M7 instructions)`, BENCH_HINT);
  return b as unknown as BenchResults;
}
