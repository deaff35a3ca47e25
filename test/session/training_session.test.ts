/**
 * The training session (src/session/training_session.ts) on the fake training engine (the host
 * engine of test/cli/fake_train_project.ts; its step: loss = label + sum(sample)/1024 + bias[label],
 * then bias[label] += 1): the held-out set evaluated before training and after each epoch, epochs in
 * seeded shuffled orders, checkpoints of the learned bytes where asked, and a run resumed from any of
 * them ending exactly as the run that never stopped. Also the orders alone.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { readLabelledFolder, type LabelledSet } from '../../src/data/labelled.ts';
import { openProjectDevice } from '../../src/link/connect.ts';
import { readManifest, type ProjectManifest } from '../../src/project/manifest.ts';
import { shuffledEpochs, stepOrder, TrainingSession, type SessionOptions, type SessionProgress, type SessionState } from '../../src/session/training_session.ts';
import { BIAS0, lossOf, makeProject } from '../cli/fake_train_project.ts';

let project: string;
let manifest: ProjectManifest;
let train: LabelledSet;
let val: LabelledSet;
let valSet: { sum: number; label: number }[];

beforeAll(async () => {
  const made = await makeProject('session');
  ({ project, valSet } = made);
  manifest = readManifest(project);
  const read = (folder: string) => readLabelledFolder(path.join(made.root, folder), manifest.inputs[0], { pixels: 'shift', classes: 3 });
  train = read('train');
  val = read('val');
});

/** The fake's bias (params bytes 6000..6012, int32) in a checkpoint. */
const biasOf = (s: SessionState) => Array.from(new Int32Array(s.params.slice(6000, 6012).buffer));

async function runSession(options: Partial<SessionOptions>) {
  const device = await openProjectDevice(project, manifest);
  try {
    const session = new TrainingSession({ device, train, val, epochs: 2, orders: shuffledEpochs(train.samples.length, 3), hyper: { lr: 0.1, momentum: 0 }, ...options });
    await session.begin();
    return await session.run();
  } finally {
    await device.close();
  }
}

describe('a training session on the fake engine', () => {
  it('evaluates before and after each epoch, checkpoints where asked, and resumes from a checkpoint exactly', async () => {
    const saved: SessionState[] = [];
    const events: SessionProgress[] = [];
    const whole = await runSession({ evaluateBefore: true, checkpoint: { every: 5, save: (s) => saved.push(s) }, onProgress: (p) => events.push(p) });

    const meanValLoss = (bias: number[]) => valSet.reduce((a, s) => a + lossOf(s, bias[s.label]), 0) / valSet.length;
    expect(whole.before!.loss).toBeCloseTo(meanValLoss(BIAS0), 4);
    const orders = shuffledEpochs(train.samples.length, 3);
    const bias = BIAS0.slice();
    for (const e of whole.epochs) {
      const steps = whole.steps.filter((s) => s.epoch === e.epoch);
      expect(steps.map((s) => s.sample)).toEqual(orders.next().value);
      for (const s of steps) bias[s.label]++;
      expect(e.valLoss).toBeCloseTo(meanValLoss(bias), 4);
    }

    // At the start, every 5 steps within an epoch, and between epochs; each holds the bias after its steps.
    expect(saved.map((s) => [s.epoch, s.step])).toEqual([[1, 0], [1, 5], [1, 10], [2, 0], [2, 5], [2, 10]]);
    for (const s of saved) {
      const b = BIAS0.slice();
      for (const step of s.steps) b[step.label]++;
      expect(biasOf(s)).toEqual(b);
    }
    // Progress: the evaluation before (epoch 0), then each epoch's steps and its evaluation, each from 0 to its total.
    const passes = events.filter((p) => p.done === 0).map((p) => `${p.pass} ${p.epoch}`);
    expect(passes).toEqual(['evaluate 0', 'train 1', 'evaluate 1', 'train 2', 'evaluate 2']);
    expect(events.filter((p) => p.pass === 'train' && p.epoch === 1).map((p) => p.done)).toEqual([...Array(13).keys()]);

    // A run resumed from a checkpoint in the middle of epoch 1 ends with the same steps and figures.
    const resumed = await runSession({ evaluateBefore: true, resume: saved[1] });
    expect(resumed.steps).toEqual(whole.steps);
    expect(resumed.before).toEqual(whole.before);
    expect(resumed.epochs.map((e) => [e.trainLoss, e.valLoss, e.valAccuracy])).toEqual(whole.epochs.map((e) => [e.trainLoss, e.valLoss, e.valAccuracy]));
  });
});

describe('sample orders', () => {
  it('shuffles each epoch anew from the last, and a step order from the identity each pass', () => {
    const epochs = shuffledEpochs(10, 7);
    const first = epochs.next().value;
    const second = epochs.next().value;
    expect([...first].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect([...second].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect(second).not.toEqual(first);
    const steps = stepOrder(10, 25, 7);
    expect(steps).toHaveLength(25);
    expect(steps.slice(0, 10)).toEqual(first); // the first pass of both is one shuffle of the identity
    expect([...steps.slice(10, 20)].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
  });
});
