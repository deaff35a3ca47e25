/**
 * `mcutrain train` and `mcutrain weights` from the command line: argument and project errors, and a
 * whole run against the real C link with the fake training engine (firmware/test/fake_model.c) as the
 * host engine of a hand-made project whose model.tflite is a single FULLY_CONNECTED with tensors the
 * size of the fake's params. (The fake's step: loss = label + sum(sample)/1024 + bias[label]; an update
 * adds 1 to weights[label] and bias[label].)
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/cli.ts';
import { encodeNpy } from '../../src/data/npy.ts';
import { McutrainError } from '../../src/errors.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import { BIAS0, biasId, buildEngine, cli, lossOf, makeProject, manifestFor, SAMPLE, weightsId } from './fake_train_project.ts';

let root: string;
let project: string;
/** Samples of the training set in the order readLabelledFolder gives them, with their labels. */
let trainSet: { sum: number; label: number }[] = [];
let valSet: { sum: number; label: number }[] = [];

beforeAll(async () => {
  ({ root, project, trainSet, valSet } = await makeProject('train-cli'));
});

describe('mcutrain train / weights: arguments and projects', () => {
  it('lists the commands and their options', () => {
    expect(cli('--help').out).toMatch(/train\s+train the model on the device[\s\S]*weights\s+save the parameters/);
    const help = cli('train', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--data FOLDER[\s\S]*--val FOLDER[\s\S]*--epochs N[\s\S]*--momentum X[\s\S]*--port PATH/);
    expect(cli('weights', '--help').out).toMatch(/-o, --out FILE/);
  });

  it('names bad arguments', async () => {
    const cases: [string[], RegExp][] = [
      [['train'], /expected one project folder, got nothing/],
      [['train', project], /train needs training data[\s\S]*hint: add --data <folder>/],
      [['train', project, '--data', 'd', '--epochs', '0'], /--epochs must be an integer from 1 to 100000, not '0'/],
      [['train', project, '--data', 'd', '--lr', 'fast'], /--lr must be a number >= 0, not 'fast'/],
      [['train', project, '--data', 'd', '--lr=-1'], /--lr must be a number >= 0, not '-1'/],
      [['train', project, '--data', 'd', '--momentum', '1'], /--momentum must be a number in \[0, 1\), not '1'/],
      [['train', project, '--data', 'd', '--seed', '1.5'], /--seed must be an integer/],
      [['train', project, '--data', 'd', '--pixels', 'rgb'], /--pixels must be one of shift, bytes, not 'rgb'/],
      [['train', project, '--data', 'd', '--bogus'], /unknown option '--bogus'/],
      [['weights', project], /weights needs an output file[\s\S]*hint: add -o <tuned.tflite>/],
      [['weights', 'a', 'b', '-o', 'x'], /expected one project folder, got a b/],
    ];
    for (const [args, pattern] of cases) {
      const error = await main(args).then(() => undefined, (e: unknown) => e);
      expect(error, args.join(' ')).toBeInstanceOf(McutrainError); // printed without a stack, exit status 1 (main.ts)
      expect(`${(error as McutrainError).message}\nhint: ${(error as McutrainError).hint}`).toMatch(pattern);
    }
  });

  it('refuses a project compiled without training, and missing or wrong data', () => {
    const plain = path.join(root, 'plain');
    mkdirSync(plain, { recursive: true });
    writeFileSync(path.join(plain, 'mcutrain.json'), JSON.stringify(manifestFor('00', false)));
    for (const args of [['train', plain, '--data', path.join(root, 'train')], ['weights', plain, '-o', path.join(root, 'x.tflite')]]) {
      const r = cli(...args);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/project '.*plain' was compiled without training/);
      expect(r.err).toMatch(/hint: compile it with --train/);
    }
    expect(cli('train', path.join(root, 'nowhere'), '--data', 'd').err).toMatch(/is not an mcutrain project/);
    expect(cli('train', project, '--data', path.join(root, 'missing')).err).toMatch(/data folder '.*missing' does not exist/);
    const tooMany = path.join(root, 'four');
    mkdirSync(path.join(tooMany, '3'), { recursive: true });
    writeFileSync(path.join(tooMany, '3', 'a.npy'), encodeNpy('int8', [1, SAMPLE], new Uint8Array(SAMPLE)));
    expect(cli('train', project, '--data', tooMany).err).toMatch(/class folder '3' is label 3, but the model has 3 classes/);
    expect(cli('train', project, '--data', path.join(root, 'train'), '--val', path.join(root, 'novel')).err).toMatch(/'.*novel' does not exist/);
  });

  it('weights needs the project\'s copy of its model, unchanged', () => {
    const copy = path.join(root, 'copy');
    cpSync(project, copy, { recursive: true });
    rmSync(path.join(copy, 'model.tflite'));
    const missing = cli('weights', copy, '-o', path.join(root, 'x.tflite'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/'.*copy' has no model\.tflite \(the copy of the model it was compiled from\)/);
    writeFileSync(path.join(copy, 'model.tflite'), 'not the model');
    expect(cli('weights', copy, '-o', path.join(root, 'x.tflite')).err).toMatch(/model\.tflite is not the model '.*copy' was compiled from/);
  });

  it('refuses firmware built without training', async () => {
    const old = path.join(root, 'old-firmware');
    cpSync(project, old, { recursive: true });
    await buildEngine(old, JSON.parse(readFileSync(path.join(old, 'mcutrain.json'), 'utf8')).model.sha256, ['-DFAKE_NO_TRAIN']);
    const r = cli('train', old, '--data', path.join(root, 'train'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/runs firmware built without training, but '.*old-firmware' was compiled with it/);
    expect(r.err).toMatch(/hint: build it again/);
  });
});

describe('mcutrain train / weights on the fake training engine', () => {
  it('trains epoch by epoch with validation, logs every step, and saves the trained model', () => {
    const json = path.join(root, 'run.json');
    const tuned = path.join(root, 'tuned.tflite');
    // --json: the run's log on stdout (the same --json-out writes), the lines for people on stderr.
    const r = cli('train', project, '--data', path.join(root, 'train'), '--val', path.join(root, 'val'), '--epochs', '2',
      '--lr', '0.1', '--seed', '3', '--json', '--json-out', json, '-o', tuned);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/training on host engine .*: 12 samples in 3 classes, 6 for validation; lr 0.1, momentum 0, 2 epoch\(s\)/);
    expect(r.err).toMatch(/epoch\s+train loss\s+train acc\s+val loss\s+val acc\s+ms\/step\s+ns\/step/);
    // The held-out figures before the first step (the parameters compiled in), printed as measured and as epoch 0.
    const before = valSet.reduce((a, s) => a + lossOf(s, BIAS0[s.label]), 0) / valSet.length;
    expect(r.err).toMatch(new RegExp(`before training: val loss ${before.toFixed(4)}  acc \\d+\\.\\d%\\n`));
    expect(r.err).toMatch(new RegExp(`\\n\\s*0\\s+-\\s+-\\s+${before.toFixed(4)}\\s+\\d+\\.\\d%\\s+-\\s+-\\n`));

    const log = JSON.parse(readFileSync(json, 'utf8'));
    expect(JSON.parse(r.out)).toEqual(log);
    expect(log).toMatchObject({ lr: 0.1, momentum: 0, seed: 3, tickUnit: 'ns', classNames: ['0', '1', '2'] });
    expect(log.steps).toHaveLength(24);
    expect(log.before.loss).toBeCloseTo(before, 4);
    const bias = BIAS0.slice();
    for (let epoch = 1; epoch <= 2; epoch++) {
      const steps = log.steps.filter((s: { epoch: number }) => s.epoch === epoch);
      expect(steps.map((s: { sample: number }) => s.sample).sort((a: number, b: number) => a - b)).toEqual([...Array(12).keys()]);
      let sum = 0;
      for (const s of steps) {
        const sample = trainSet[s.sample];
        expect(s.label).toBe(sample.label);
        expect(s.loss).toBe(lossOf(sample, bias[sample.label]));
        sum += s.loss;
        bias[sample.label]++;
      }
      const e = log.epochs[epoch - 1];
      expect(e.trainLoss).toBeCloseTo(sum / 12, 4);
      expect(e.valLoss).toBeCloseTo(valSet.reduce((a, s) => a + lossOf(s, bias[s.label]), 0) / valSet.length, 4);
      expect(e.msPerStep).toBeGreaterThan(0);
    }
    expect(log.steps.slice(0, 12).map((s: { sample: number }) => s.sample)).not.toEqual(log.steps.slice(12).map((s: { sample: number }) => s.sample));

    // Each step added 1 to weights[label] and bias[label]: 8 steps per class over two epochs.
    const graph = importTflite(new Uint8Array(readFileSync(tuned)), 'tuned.tflite');
    expect(Array.from(graph.tensors[weightsId].data!.subarray(0, 4))).toEqual([8, 8, 8, 0]);
    expect(Array.from(new Int32Array(graph.tensors[biasId].data!.slice().buffer))).toEqual(bias);
    expect(bias).toEqual([108, -192, 308]);
    expect(r.err).toMatch(/wrote .*tuned\.tflite: 2 trained tensor\(s\), 6,012 B/);
    expect(r.err).toMatch(/0\s+0\s+fc\/bias\s+bias\s+int32\s+12\s+7/); // bytes of [1, 2, 3] -> [108, -192, 308] that differ
  });

  it('weights refuses a host project: its engine\'s state ends with each command', () => {
    const r = cli('weights', project, '-o', path.join(root, 'fresh.tflite'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/targets the host: its engine keeps what it learns only while one command runs/);
    expect(r.err).toMatch(/hint: train and save in one command: mcutrain train .* -o tuned\.tflite/);
    expect(existsSync(path.join(root, 'fresh.tflite'))).toBe(false);
    const train = cli('train', project, '--data', path.join(root, 'train'));
    expect(train.code).toBe(0);
    expect(train.out).toMatch(/the host engine's state ended with this command[\s\S]*train with -o/);
  });
});
