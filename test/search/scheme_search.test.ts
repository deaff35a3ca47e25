/**
 * Choosing a scheme on a tiny real int8 model (conv 3x3 -> MEAN -> FC, built by the zoo's NetBuilder,
 * quantized by mcutrain) with separable synthetic classes: the host engines build and fine-tune for a
 * few steps, the chosen scheme fits the budget with the planner's figure, the cache makes a rerun free
 * and an interrupted run redo only what is missing; then the CLI on the same cache, and its errors.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readLabelledFolder, type LabelledSet } from '../../src/data/labelled.ts';
import { writeTflite } from '../../src/export/write_tflite.ts';
import { analyzeModel, buildSram } from '../../src/pipeline/pipeline.ts';
import { calibrate } from '../../src/quantize/calibrate.ts';
import { quantizeGraph } from '../../src/quantize/quantize_graph.ts';
import { chooseScheme, modelInfo, plannedSram, type ChooseOptions } from '../../src/search/choose_scheme.ts';
import { readCache } from '../../src/search/contribution.ts';
import { loadTarget } from '../../src/targets/target.ts';
import { parseScheme } from '../../src/train/scheme.ts';
import { seededUniform } from '../../src/util/random.ts';
import { NetBuilder } from '../../src/zoo/net_builder.ts';
import { REPO, tempDir } from '../helpers/paths.ts';

const SIDE = 8;
const CLASSES = 3;
const TARGET = 'mps2-an500';

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(REPO, 'bin/mcutrain.js'), ...args], { encoding: 'utf8', cwd: REPO });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Class c lights up band c of the image, plus noise. */
function image(label: number, next: () => number): Float32Array {
  return Float32Array.from({ length: SIDE * SIDE }, (_, i) => (Math.floor((i % SIDE) / 3) === label ? 0.8 : 0.1) + 0.2 * next());
}

let root: string;
let modelPath: string;
let train: LabelledSet;
let val: LabelledSet;
let base: ChooseOptions;

beforeAll(async () => {
  root = tempDir('scheme-search');
  const b = new NetBuilder('tiny', 3);
  const x = b.input([1, SIDE, SIDE, 1]);
  const h = b.conv(x, { out: 6, kernel: 3, activation: 'RELU', name: 'conv' });
  const graph = b.graph([b.fullyConnected(b.mean(h), CLASSES, 'NONE', 'classifier')]);
  const next = seededUniform(9);
  const calibration = await calibrate(graph, Array.from({ length: 24 }, (_, i) => [image(i % CLASSES, next)]));
  modelPath = path.join(root, 'tiny.tflite');
  writeFileSync(modelPath, writeTflite(quantizeGraph(graph, calibration)));
  const { input } = modelInfo(new Uint8Array(readFileSync(modelPath)), 'tiny.tflite');
  const write = (folder: string, perClass: number) => {
    for (let label = 0; label < CLASSES; label++) {
      mkdirSync(path.join(folder, String(label)), { recursive: true });
      for (let k = 0; k < perClass; k++) {
        const q = Int8Array.from(image(label, next), (v) => Math.max(-128, Math.min(127, Math.round(v / input.scale) + input.zeroPoint)));
        writeFileSync(path.join(folder, String(label), `${k}.bin`), new Uint8Array(q.buffer));
      }
    }
    return readLabelledFolder(folder, input, { pixels: 'shift', classes: CLASSES });
  };
  train = write(path.join(root, 'train'), 6);
  val = write(path.join(root, 'val'), 4);
  base = {
    modelPath, target: TARGET, budget: 0, train, val, layers: 'all', hyper: { steps: 40, lr: 0.1, momentum: 0, qas: true, seed: 1 },
    cacheFile: path.join(root, 'cache.json'),
  };
});

/** SRAM of a scheme on the target, straight from analyzeModel. */
const sram = (scheme: string) => buildSram(analyzeModel(new Uint8Array(readFileSync(modelPath)), 'tiny.tflite', 'tflm', parseScheme(scheme)), loadTarget(TARGET)).totalBytes;

describe('chooseScheme on a tiny model', () => {
  it('measures the candidates that fit, and picks a scheme within the budget at the planner\'s SRAM', async () => {
    // A budget the classifier's candidates fit and the conv's weights (a backward pass through the conv) do not.
    const budget = Math.max(sram('bias:last=1'), sram('weights:layers=1'), sram('bias:last=1,weights:layers=1'));
    expect(sram('weights:layers=0@1/8')).toBeGreaterThan(budget);
    const r = await chooseScheme({ ...base, budget });
    expect(r.candidates.map((c) => c.key)).toEqual([
      'bias:last=1', 'bias:last=2', ...['0@1/8', '0@1/4', '0@1/2', '0', '1@1/8', '1@1/4', '1@1/2', '1'].map((w) => `weights:layers=${w}`),
    ]);
    const measured = r.candidates.filter((c) => c.gain !== undefined).map((c) => c.key);
    expect(measured).toContain('weights:layers=1');
    expect(measured.every((k) => !k.startsWith('weights:layers=0'))).toBe(true);
    expect(r.sram.totalBytes).toBeLessThanOrEqual(budget);
    expect(r.chosen.bytes).toBe(r.sram.totalBytes);
    expect(r.sram.totalBytes).toBe(sram(`${r.chosen.combination.biasLast ? `bias:last=${r.chosen.combination.biasLast},` : ''}${r.chosen.combination.weights.length ? `weights:layers=${r.chosen.combination.weights.map((w) => `${w.layer}@${w.fraction}`).join(',')}` : ''}`.replace(/,$/, '')));
    expect(plannedSram(new Uint8Array(readFileSync(modelPath)), 'tiny.tflite', loadTarget(TARGET), r.scheme).totalBytes).toBe(r.sram.totalBytes);
    expect(r.contributions.results.every((c) => !c.cached && c.ms > 0)).toBe(true);

    // A rerun measures nothing; losing one entry (an interrupted run) redoes only that one.
    const again = await chooseScheme({ ...base, budget });
    expect(again.contributions.results.every((c) => c.cached)).toBe(true);
    expect(again.scheme).toEqual(r.scheme);
    const cache = readCache(base.cacheFile);
    const victim = Object.keys(cache.entries).find((k) => cache.entries[k].candidate === 'weights:layers=1@1/2')!;
    delete cache.entries[victim];
    writeFileSync(base.cacheFile, JSON.stringify(cache));
    const resumed = await chooseScheme({ ...base, budget });
    expect(resumed.contributions.results.filter((c) => !c.cached).map((c) => c.key)).toEqual(['weights:layers=1@1/2']);
    expect(resumed.scheme).toEqual(r.scheme);
    // One build per scheme measured (the baseline reuses the first candidate's).
    expect(readdirSync(`${base.cacheFile}.builds`).length).toBe(measured.length);
  });

  it('runs from the command line on the same cache and writes a scheme parseScheme reads', () => {
    const budget = String(Math.max(sram('bias:last=1'), sram('weights:layers=1'), sram('bias:last=1,weights:layers=1')));
    const out = path.join(root, 'scheme.json');
    const r = cli('scheme', modelPath, '--data', path.join(root, 'train'), '--val', path.join(root, 'val'), '--budget', budget, '--target', TARGET,
      '--layers', 'all', '--steps', '40', '--lr', '0.1', '--cache', base.cacheFile, '-o', out);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/0 now; 5 from the cache/);
    expect(r.out).toMatch(/chosen scheme: [\s\S]*expected gain[\s\S]*Pareto front/);
    const scheme = parseScheme(out);
    expect(Object.keys(JSON.parse(readFileSync(out, 'utf8'))).every((k) => ['bias', 'weights', 'qas', 'momentum', 'lr'].includes(k))).toBe(true);
    expect(sram(out)).toBeLessThanOrEqual(Number(budget));
    expect(scheme.lr).toBe(0.1);

    // compile --train auto: the same search (cached), then the project with the chosen scheme.
    const project = path.join(root, 'auto');
    const c = cli('compile', modelPath, '--train', 'auto', '--data', path.join(root, 'train'), '--val', path.join(root, 'val'), '--budget', budget,
      '--target', TARGET, '--layers', 'all', '--steps', '40', '--lr', '0.1', '--cache', base.cacheFile, '-o', project);
    expect(c.err).toBe('');
    expect(c.code).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(project, 'mcutrain.json'), 'utf8')) as { training: { scheme: string } };
    expect(parseScheme(manifest.training.scheme)).toEqual(scheme);
    expect(c.out).toMatch(/chosen scheme[\s\S]*compiled tiny.tflite/);
  });

  it('says clearly what is wrong', () => {
    const data = path.join(root, 'train');
    const cases: [string[], RegExp][] = [
      [['scheme', modelPath, '--data', data], /needs a memory budget[\s\S]*--budget 256KiB/],
      [['scheme', modelPath, '--budget', '64KiB'], /needs fine-tuning data/],
      [['scheme', modelPath, '--data', data, '--budget', 'lots'], /cannot read the budget 'lots'/],
      [['scheme', modelPath, '--data', path.join(root, 'nowhere'), '--budget', '64KiB'], /data folder .* does not exist/],
      [['scheme', modelPath, '--data', data, '--budget', '1KiB', '--target', TARGET], /no scheme fits the budget of 1024 B: the smallest candidate \(weights:layers=1@1\/8\) needs \d+ B[\s\S]*raise --budget to at least \d+KiB/],
      [['scheme', modelPath, '--data', data, '--budget', '64KiB', '--layers', 'first:2'], /--layers must be last:N/],
      [['compile', modelPath, '--train', 'auto', '-o', path.join(root, 'out')], /needs a memory budget/],
    ];
    for (const [args, message] of cases) {
      const r = cli(...args);
      expect(r.code, args.join(' ')).toBe(args.includes('lots') ? 2 : 1); // a bad option value is a command-line mistake
      expect(r.err).toMatch(message);
    }
    expect(existsSync(path.join(root, 'out'))).toBe(false);
  });
});
