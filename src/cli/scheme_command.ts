/**
 * `mcutrain scheme`: choose the training scheme automatically (contribution analysis on the host
 * engine, then a search under the SRAM budget; src/search/), print why, and write it as JSON.
 * `mcutrain compile --train auto` runs the same through autoScheme.
 */
import path from 'node:path';
import { printResult } from './json_output.ts';
import { McutrainError } from '../errors.ts';
import { readLabelledFolder, type LabelledSet } from '../data/labelled.ts';
import { readModelFile } from '../project/compile_project.ts';
import { candidateCombination } from '../search/contribution.ts';
import { chooseScheme, modelInfo, searchSchemes, parseLayerSelection, type ChooseResult } from '../search/choose_scheme.ts';
import { defaultArith } from '../train/integer_arith.ts';
import { combinationKey, type Combination } from '../search/search.ts';
import { DEFAULT_TARGET, loadTarget } from '../targets/target.ts';
import { DEFAULT_LR, schemeToJson, schemeToString } from '../train/scheme.ts';
import { writeFileAtomic } from '../util/fs_atomic.ts';
import { seededUniform } from '../util/random.ts';
import type { Command, OptionSpec } from './commands.ts';
import { numericsOption, onePositional, optionValue, pixelsOption, str, type Values } from './options.ts';
import { progress } from './progress.ts';
import { warn } from './warn.ts';
import { formatTable } from '../util/table.ts';

const USAGE = 'scheme <model.tflite> --data <folder> --budget 256KiB [--target NAME] [-o scheme.json] [--layers last:12] [--steps 300] [--lr 0.05] [--cache file]';
export const DEFAULT_CACHE = path.join('.mcutrain', 'scheme-cache.json');

/** The options of the search, shared with `compile --train auto` (which has its own --target, --lr, --momentum, --no-qas). */
export const AUTO_OPTIONS: OptionSpec = {
  // No defaults here (autoScheme applies them), so compile can tell which were given without --train auto.
  budget: { type: 'string' }, data: { type: 'string', short: 'd' }, val: { type: 'string' }, layers: { type: 'string' },
  steps: { type: 'string' }, seed: { type: 'string' }, cache: { type: 'string' }, jobs: { type: 'string' }, pixels: { type: 'string' },
};

export const AUTO_HELP = [
  '  --budget SIZE        peak SRAM the scheme may take on the target: 262144, 256KiB, 256KB (1000 B), 0.25MiB',
  '  -d, --data FOLDER    fine-tuning samples as FOLDER/<class>/<files> (as mcutrain train reads them)',
  '  --val FOLDER         held-out samples the accuracy is measured on, class folders named as in --data',
  '                       (default: a seeded 20% of --data)',
  '  --layers last:N|all  weighted layers whose bias and weights are candidates (default last:12)',
  '  --steps N            samples each candidate is fine-tuned on (default 300)',
  '  --seed N             seed of the sample order and the held-out split (default 1)',
  `  --cache FILE         measured contributions, reused by later runs (default ${DEFAULT_CACHE}; builds in FILE.builds/)`,
  '  --jobs N             engines measured at once (default: the CPU count)',
  '  --pixels MODE        how .bmp pixels feed an int8 input: shift (default) or bytes',
];

/** A seeded share of the samples held out (at least one), the rest for fine-tuning. */
export function splitHeldOut(set: LabelledSet, fraction: number, seed: number): { train: LabelledSet; val: LabelledSet } {
  if (set.samples.length < 2) throw new McutrainError(`${set.samples.length} sample(s) are too few to fine-tune and hold some out`, 'add samples, or give held-out samples with --val');
  const random = seededUniform(seed ^ 0x5eed);
  const order = set.samples.map((_, i) => ({ i, r: random() })).sort((a, b) => a.r - b.r).map((e) => e.i);
  const held = Math.max(1, Math.round(set.samples.length * fraction));
  const pick = (ids: number[]): LabelledSet => ({ samples: ids.map((i) => set.samples[i]), labels: ids.map((i) => set.labels[i]), classNames: set.classNames });
  return { val: pick(order.slice(0, held).sort((a, b) => a - b)), train: pick(order.slice(held).sort((a, b) => a - b)) };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const points = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}`;
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

/** Runs the search from the command line's values and prints the report; returns the result. */
export async function autoScheme(modelFile: string, v: Values): Promise<ChooseResult> {
  const budget = optionValue(v, 'budget');
  if (budget === undefined) throw new McutrainError('choosing a scheme needs a memory budget', 'add --budget 256KiB (peak SRAM on the target)');
  const data = str(v.data);
  if (!data) throw new McutrainError('choosing a scheme needs fine-tuning data', 'add --data <folder> (laid out as <folder>/<class>/<files>)');
  const pixels = pixelsOption(v);
  const steps = optionValue(v, 'steps') ?? 300;
  const seed = optionValue(v, 'seed') ?? 1;
  const jobs = optionValue(v, 'jobs');
  const lr = optionValue(v, 'lr') ?? DEFAULT_LR;
  const momentum = optionValue(v, 'momentum') ?? 0;
  const layers = parseLayerSelection(str(v.layers) ?? 'last:12');
  const target = str(v.target) ?? DEFAULT_TARGET;
  const arith = optionValue(v, 'arith') ?? defaultArith(loadTarget(target));
  const hyper = { steps, lr, momentum, qas: v['no-qas'] !== true, seed, grad: optionValue(v, 'grad') };
  searchSchemes(hyper, arith); // the target and the options checked before the data is read (momentum with the integer engine)
  const numerics = numericsOption(v);
  const patches = optionValue(v, 'patches');

  const info = modelInfo(readModelFile(modelFile), path.basename(modelFile));
  const read = (folder: string, labelsOf?: LabelledSet) => readLabelledFolder(folder, info.input, {
    pixels, classes: info.classes, warn, labelsOf: labelsOf && { folder: data, classNames: labelsOf.classNames },
  });
  const all = read(data);
  const { train, val } = str(v.val) ? { train: all, val: read(str(v.val)!, all) } : splitHeldOut(all, 0.2, seed);

  const bar = progress('choosing the scheme');
  let result: ChooseResult;
  try {
    result = await chooseScheme({
      modelPath: modelFile, target, budget, train, val, layers, numerics, patches,
      arith, hyper, cacheFile: str(v.cache) ?? DEFAULT_CACHE, concurrency: jobs,
      onProgress: (done, total, note) => bar.update(done, total, note),
    });
  } finally {
    bar.done();
  }
  console.log(formatSchemeReport(result, modelFile, train.samples.length, val.samples.length, steps));
  return result;
}

export function formatSchemeReport(r: ChooseResult, modelFile: string, trainCount: number, valCount: number, steps: number): string {
  const name = path.basename(modelFile);
  const sramOf = r.sramOf;
  const measured = r.candidates.filter((c) => c.gain !== undefined);
  const fresh = measured.filter((c) => !c.cached);
  const lines = [
    `${name}: ${r.candidates.length} candidates (${measured.length} within the budget measured, ${fresh.length} now` +
    `${fresh.length ? `, ${(fresh.reduce((s, c) => s + (c.ms ?? 0), 0) / fresh.length / 1000).toFixed(1)} s each` : ''}; ${measured.length - fresh.length} from the cache), ` +
    `${steps} fine-tuning steps on ${trainCount} samples, accuracy on ${valCount} held out; untrained ${pct(r.baseline)}`,
    '',
    formatTable(['candidate', 'SRAM alone', 'accuracy', 'gain (points)'], r.candidates.map((c) => [
      c.key, kib(c.bytes), c.accuracy === undefined ? 'over budget' : pct(c.accuracy), c.gain === undefined ? '-' : points(c.gain),
    ]), new Set([1, 2, 3])),
  ];
  if (r.skipped.length) lines.push('', `not trainable: ${r.skipped.map((s) => s.key).join(', ')}`);

  // Each choice with its own SRAM, and the SRAM of it together with the choices above (the planner's, not a sum).
  const c = r.chosen.combination;
  const parts: Combination[] = [
    ...(c.biasLast > 0 ? [{ biasLast: c.biasLast, weights: [] }] : []),
    ...[...c.weights].reverse().map((w) => ({ biasLast: 0, weights: [w] })),
  ];
  const rows = parts.map((p, k) => {
    const soFar: Combination = { biasLast: Math.max(0, ...parts.slice(0, k + 1).map((q) => q.biasLast)), weights: parts.slice(0, k + 1).flatMap((q) => q.weights).sort((a, b) => a.layer - b.layer) };
    const row = r.candidates.find((x) => combinationKey(candidateCombination(x.candidate)) === combinationKey(p));
    return [combinationKey(p), points(row?.gain ?? 0), kib(row?.bytes ?? sramOf(p)), kib(sramOf(soFar))];
  });
  lines.push(
    '',
    `chosen scheme: ${schemeToString(r.scheme)}`,
    `  expected gain ${points(r.chosen.gain)} points (sum of the contributions); planned SRAM ${r.sram.totalBytes.toLocaleString('en-US')} B (${kib(r.sram.totalBytes)}) ` +
    `of a ${r.budget.toLocaleString('en-US')} B budget on ${r.target.name}`,
    `  arena ${kib(r.sram.arenaBytes)}, trained parameters ${kib(r.sram.paramBytes)}, momentum ${kib(r.sram.momentumBytes)}, stack ${kib(r.sram.stackBytes)}, link ${kib(r.sram.linkBytes)}, runtime ${kib(r.sram.runtimeBytes)}`,
    `  ${r.fit.summary}`,
    '',
    formatTable(['choice', 'gain (points)', 'SRAM alone', 'SRAM with the above'], rows, new Set([1, 2, 3])),
    '',
    `Pareto front (${r.evaluations} combinations priced by the planner, search ${r.exhaustive ? 'exhaustive' : 'stopped at its evaluation cap'}):`,
    formatTable(['SRAM', 'expected gain', 'scheme', ''], r.front.map((p) => [
      kib(p.bytes), points(p.gain), combinationKey(p.combination),
      combinationKey(p.combination) === combinationKey(c) ? '<- chosen' : p.bytes > r.budget ? 'over budget' : '',
    ]), new Set([0, 1])),
  );
  if (r.warning) lines.push('', `warning: ${r.warning}`);
  return lines.join('\n');
}

export const SCHEME_COMMAND: Command = {
  usage: USAGE,
  summary: 'choose the training scheme that gains most within an SRAM budget (contribution analysis + search)',
  help: [
    'Options:',
    ...AUTO_HELP,
    `  -t, --target NAME    the board whose SRAM the budget is checked on (default ${DEFAULT_TARGET}); candidates are measured on the host`,
    '  -o, --out FILE       write the scheme as JSON (for compile --train FILE)',
    `  --lr X               learning rate of the fine-tuning runs and of the scheme (default ${DEFAULT_LR})`,
    '  --momentum X         SGD momentum (default 0)',
    '  --no-qas             without Quantization-Aware Scaling',
    '  --grad f32|i16|i8    gradient storage of the engines measured and of the scheme (default f32)',
    '  --arith int|float    the training arithmetic the schemes are priced in (default: the target\'s, as for compile)',
    '  --numerics tflm|tflite  as for compile',
    '  --patches auto|fit|off  as for compile (fit: within --budget): price the schemes as they will be compiled (default auto)',
    'Each candidate (bias of the last k layers; weights of one layer at 1/8, 1/4, 1/2, 1 of its channels) is',
    'fine-tuned alone on the host engine and scored on held-out samples; the search then combines them.',
  ].join('\n'),
  options: {
    ...AUTO_OPTIONS, target: { type: 'string', short: 't', default: DEFAULT_TARGET }, out: { type: 'string', short: 'o' },
    lr: { type: 'string' }, momentum: { type: 'string' }, 'no-qas': { type: 'boolean' }, grad: { type: 'string' }, arith: { type: 'string' }, numerics: { type: 'string', default: 'tflm' },
    patches: { type: 'string' },
  },
  async run(pos, v) {
    const model = onePositional(pos, 'one model file', USAGE);
    const r = await autoScheme(model, v);
    const out = str(v.out);
    if (out) {
      writeFileAtomic(out, schemeToJson(r.scheme));
      console.log(`\nwrote ${out}; compile with: mcutrain compile ${model} --train ${out} --target ${r.target.name} -o <dir>`);
    }
    printResult(v, { scheme: schemeToString(r.scheme), budget: r.budget, target: r.target.name, sram: r.sram, expectedGain: r.chosen.gain, baseline: r.baseline, fit: r.fit, out: out ?? null,
      candidates: r.candidates.map((c) => ({ key: c.key, bytes: c.bytes, accuracy: c.accuracy ?? null, gain: c.gain ?? null })) });
    return 0;
  },
};
