/**
 * Automatic Sparse Update on a transfer task (`npm run experiment:scheme-search`, issue 6): the small
 * MobileNet-style net of test/helpers/transfer_pipeline.ts is pretrained on MNIST digits 0-4 and
 * quantized by mcutrain; `chooseScheme` (what `mcutrain scheme` runs) picks a scheme for digits 5-9
 * under an SRAM budget from contributions measured on part of the fine-tuning samples (short runs,
 * accuracy on samples held out of them). Then the chosen scheme and every "bias of the last k layers"
 * scheme are fine-tuned the same way (one pass over all fine-tuning samples, the same order, SGD at
 * batch 1 with QAS, lr from a small grid by the lowest online loss) and scored on the untouched test
 * digits. Prints a markdown table; writes experiments/results/scheme_search.json.
 *
 * Two budgets: the planned SRAM of the biases of the last half of the layers, and of all of them
 * (the contributions measured for the first are reused by the second through the cache).
 * Environment: SCHEME_SEARCH_SEED (1); SCHEME_SEARCH_BUDGET (one budget instead, bytes or 40KiB).
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LabelledSet } from '../src/data/labelled.ts';
import { parseBytes } from '../src/search/budget.ts';
import { chooseScheme, modelInfo, plannedSram } from '../src/search/choose_scheme.ts';
import { combinationKey } from '../src/search/search.ts';
import { loadTarget } from '../src/targets/target.ts';
import { schemeToString, type TrainingScheme } from '../src/train/scheme.ts';
import { writeFileAtomic } from '../src/util/fs_atomic.ts';
import { quantizeImage, shuffled, type Digit } from '../test/helpers/mnist_pipeline.ts';
import {
  buildTransferNet, fineTuneEngine, openTrainingEngine, pretrain, quantizeToFile, TASK_CLASSES, transferData, type EngineRun,
} from '../test/helpers/transfer_pipeline.ts';

const SEED = Number(process.env.SCHEME_SEARCH_SEED ?? 1);
const TARGET = 'stm32f746g-disco';
const COUNTS = { pretrain: 3000, sourceTest: 300, fineTune: 1500, targetTest: 1000 };
/** Contribution analysis: fine-tune on the first SEARCH_TRAIN samples, score on the next SEARCH_VAL. */
const SEARCH_TRAIN = 1200;
const SEARCH_VAL = 300;
const SEARCH = { steps: 600, lr: 0.03, momentum: 0, qas: true, seed: SEED };
const LR_GRID = [0.01, 0.03, 0.1];

const log = (s: string) => process.stderr.write(`${s}\n`);
const pct = (x: number) => (100 * x).toFixed(1);
const kib = (n: number) => (n / 1024).toFixed(1);

const started = performance.now();
const work = path.join(tmpdir(), `mcutrain-scheme-search-${process.pid}`);
mkdirSync(work, { recursive: true });
try {
  const data = transferData(COUNTS, SEED);
  let t = performance.now();
  const model = await pretrain(buildTransferNet(SEED), data.pretrain, { epochs: 3, batchSize: 32, learningRate: 0.01, seed: SEED });
  const floatGraph = model.toGraph();
  model.dispose();
  const tflite = path.join(work, 'transfer_int8.tflite');
  await quantizeToFile(floatGraph, data.pretrain.slice(0, 200), tflite);
  const pretrainMs = performance.now() - t;
  log(`pretrained on ${data.pretrain.length} digits 0-4 and quantized in ${(pretrainMs / 1000).toFixed(0)} s`);

  const bytes = new Uint8Array(readFileSync(tflite));
  const info = modelInfo(bytes, 'transfer_int8.tflite');
  const target = loadTarget(TARGET);
  const sramOf = (s: TrainingScheme) => plannedSram(bytes, 'transfer_int8.tflite', target, s).totalBytes;
  const biasScheme = (k: number): TrainingScheme => ({ biasLast: k, weights: [], qas: true, momentum: 0, lr: SEARCH.lr });
  const budgets = process.env.SCHEME_SEARCH_BUDGET ? [parseBytes(process.env.SCHEME_SEARCH_BUDGET)]
    : [sramOf(biasScheme(Math.ceil(info.layers / 2))), sramOf(biasScheme(info.layers))];

  const asSet = (digits: readonly Digit[]): LabelledSet => ({
    samples: digits.map((d) => quantizeImage(d.pixels, info.input)), labels: digits.map((d) => d.label),
    classNames: Array.from({ length: TASK_CLASSES }, (_, i) => String(i + TASK_CLASSES)),
  });
  const searchTrain = asSet(data.fineTune.slice(0, SEARCH_TRAIN));
  const searchVal = asSet(data.fineTune.slice(SEARCH_TRAIN, SEARCH_TRAIN + SEARCH_VAL));

  // The comparison: every scheme fine-tuned on all fine-tuning samples in one order, scored on the test digits.
  const order = shuffled(data.fineTune, SEED + 7);
  let builds = 0;
  const fineTune = async (name: string, scheme: TrainingScheme) => {
    const engine = await openTrainingEngine(tflite, schemeToString(scheme), true, path.join(work, `final${builds++}`), 'off');
    try {
      let best: EngineRun | undefined;
      for (const lr of LR_GRID) {
        const r = await fineTuneEngine(engine, order, data.targetTest, lr);
        if (!best || !(best.finalMeanLoss <= r.finalMeanLoss)) best = r;
      }
      log(`  ${name}: lr ${best!.lr}, test accuracy ${pct(best!.before.accuracy)} -> ${pct(best!.after.accuracy)} %`);
      return { scheme: name, sramBytes: sramOf(scheme), lr: best!.lr, before: best!.before.accuracy, after: best!.after.accuracy, finalMeanLoss: best!.finalMeanLoss };
    } finally {
      await engine.device.close();
    }
  };

  t = performance.now();
  const biasOnly: Awaited<ReturnType<typeof fineTune>>[] = [];
  for (let k = 1; k <= info.layers; k++) biasOnly.push(await fineTune(`bias:last=${k}`, biasScheme(k)));
  const biasMs = performance.now() - t;

  const runs = [];
  for (const budget of budgets) {
    t = performance.now();
    let lastNote = '';
    const chosen = await chooseScheme({
      modelPath: tflite, target: TARGET, budget, layers: 'all', hyper: SEARCH, cacheFile: path.join(work, 'cache.json'),
      train: searchTrain, val: searchVal,
      onProgress: (done, total, note) => {
        if (note !== lastNote && !note.startsWith('pricing') && note !== 'searching') log(`  contribution ${done}/${total}: ${note}`);
        lastNote = note;
      },
    });
    const searchMs = performance.now() - t;
    const measured = chosen.candidates.filter((c) => c.gain !== undefined);
    log(`chose ${schemeToString(chosen.scheme)} under ${budget} B: expected +${pct(chosen.chosen.gain)} points, ${chosen.sram.totalBytes} B ` +
      `(${measured.length} of ${chosen.candidates.length} candidates within the budget, ${(searchMs / 1000).toFixed(0)} s)`);
    const auto = { ...(await fineTune(`auto: ${combinationKey(chosen.chosen.combination)}`, chosen.scheme)), expectedGain: chosen.chosen.gain };
    const rival = biasOnly.filter((b) => b.sramBytes >= auto.sramBytes).reduce<(typeof biasOnly)[number] | undefined>((a, b) => (!a || b.after > a.after ? b : a), undefined);
    runs.push({ budget, chosen, auto, rival, searchMs });
  }
  const table = (budget: number, rows: { scheme: string; sramBytes: number; lr: number; before: number; after: number }[]) => [
    '| scheme | planned SRAM (KiB) | within budget | lr | test acc. before (%) | after (%) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.scheme} | ${kib(r.sramBytes)} | ${r.sramBytes <= budget ? 'yes' : 'no'} | ${r.lr} | ${pct(r.before)} | ${pct(r.after)} |`),
  ];
  console.log([
    `Scheme search on MNIST 0-4 -> 5-9 (${TARGET}; contributions: ${SEARCH.steps} steps at lr ${SEARCH.lr}, ${SEARCH_VAL} held-out samples; ` +
    `final: one pass over ${order.length} samples, ${data.targetTest.length} test digits; seed ${SEED})`,
    ...runs.flatMap(({ budget, auto, rival }) => [
      '', `Budget ${budget} B (${kib(budget)} KiB):`, '',
      ...table(budget, [auto, ...biasOnly]),
      '',
      rival ? `auto ${pct(auto.after)} % vs the best bias-only scheme at equal or more SRAM (${rival.scheme}, ${kib(rival.sramBytes)} KiB): ${pct(rival.after)} %`
        : 'no bias-only scheme takes as much SRAM as the chosen one',
    ]),
  ].join('\n'));

  writeFileAtomic(path.join(import.meta.dirname, 'results', 'scheme_search.json'), JSON.stringify({
    date: new Date().toISOString(), node: process.version, seed: SEED, target: TARGET, counts: COUNTS,
    search: { ...SEARCH, trainSamples: SEARCH_TRAIN, heldOutSamples: SEARCH_VAL },
    fineTune: { steps: order.length, lrGrid: LR_GRID, lrChoice: 'lowest mean online loss over the last quarter of the steps', biasOnlyMs: Math.round(biasMs) },
    biasOnly,
    budgets: runs.map(({ budget, chosen, auto, rival, searchMs }) => ({
      budget, baseline: chosen.baseline, searchMs: Math.round(searchMs), evaluations: chosen.evaluations, exhaustive: chosen.exhaustive,
      candidates: chosen.candidates.map((c) => ({ candidate: c.key, sramBytes: c.bytes, accuracy: c.accuracy ?? null, gain: c.gain ?? null, ms: Math.round(c.ms ?? 0), cached: c.cached ?? null })),
      front: chosen.front.map((p) => ({ scheme: combinationKey(p.combination), expectedGain: p.gain, sramBytes: p.bytes })),
      chosen: { scheme: schemeToString(chosen.scheme), expectedGain: chosen.chosen.gain, sram: chosen.sram },
      auto, bestBiasOnlyAtEqualOrMoreSram: rival?.scheme ?? null,
    })),
    pretrainMs: Math.round(pretrainMs), totalMs: Math.round(performance.now() - started),
  }, null, 2) + '\n');
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s; wrote experiments/results/scheme_search.json`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
