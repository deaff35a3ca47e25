/**
 * `mcutrain train` that must stop: a host engine that dies in the middle of a run (its stdin cut after
 * a number of bytes) leaves a checkpoint and an -o model with what was learned by the last checkpoint;
 * `train --resume` continues from there and ends with exactly the model of a run that never stopped.
 */
import { chmodSync, copyFileSync, cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { importTflite } from '../../src/import/import_tflite.ts';
import { BIAS0, biasId, cli, makeProject } from './fake_train_project.ts';

let root: string;
let project: string;

beforeAll(async () => {
  ({ root, project } = await makeProject('train-resume'));
});

const biasOf = (file: string) => Array.from(new Int32Array(importTflite(new Uint8Array(readFileSync(file)), 'x').tensors[biasId].data!.slice().buffer));

describe('mcutrain train on a link that dies', () => {
  it('stops with a checkpoint and the model learned so far, and --resume finishes the run as if nothing happened', () => {
    const data = path.join(root, 'train');
    const common = ['--data', data, '--epochs', '2', '--seed', '3', '--checkpoint-every', '4'];
    const reference = path.join(root, 'reference.tflite');
    const referenceJson = path.join(root, 'reference.json');
    const clean = cli('train', project, ...common, '-o', reference, '--json-out', referenceJson);
    expect(clean.err).toBe('');
    expect(clean.code).toBe(0);
    expect(existsSync(path.join(project, 'train-checkpoint.json'))).toBe(false); // a finished run leaves none

    // The same project whose engine loses its input after 650 bytes: the requests up to the first
    // checkpoint (152 B), 8 steps of 32 B with two checkpoints of 84 B, and part of the 11th step.
    const dying = path.join(root, 'dying');
    cpSync(project, dying, { recursive: true });
    copyFileSync(path.join(project, 'engine'), path.join(dying, 'real-engine'));
    writeFileSync(path.join(dying, 'engine'), `#!/bin/sh\ndd bs=1 count=650 status=none | "${path.join(dying, 'real-engine')}"\n`);
    chmodSync(path.join(dying, 'engine'), 0o755);
    const partial = path.join(root, 'partial.tflite');
    const stopped = cli('train', dying, ...common, '-o', partial);
    expect(stopped.code).toBe(1);
    expect(stopped.err).toMatch(/exited while in use/);
    expect(stopped.err).toMatch(/training stopped; its checkpoint \(8 step\(s\) learned, next: epoch 1, step 9\) is in .*train-checkpoint\.json, and .*partial\.tflite holds what was learned by then/);
    expect(stopped.err).toMatch(/hint: .*continue with: mcutrain train .*dying --data .* --seed 3 --resume/);
    expect(stopped.err).not.toMatch(/\n\s+at /);
    // -o holds the bias after exactly the first 8 steps of the reference run.
    const bias = BIAS0.slice();
    const steps = JSON.parse(readFileSync(referenceJson, 'utf8')).steps as { label: number; loss: number }[];
    for (const s of steps.slice(0, 8)) bias[s.label]++;
    expect(biasOf(partial)).toEqual(bias);

    copyFileSync(path.join(dying, 'real-engine'), path.join(dying, 'engine'));
    const resumedJson = path.join(root, 'resumed.json');
    const resumedModel = path.join(root, 'resumed.tflite');
    const resumed = cli('train', dying, ...common, '--resume', '-o', resumedModel, '--json-out', resumedJson);
    expect(resumed.err).toBe('');
    expect(resumed.code).toBe(0);
    expect(resumed.out).toMatch(/resuming from .*train-checkpoint\.json: epoch 1, step 9/);
    expect(readFileSync(resumedModel).equals(readFileSync(reference))).toBe(true);
    const log = JSON.parse(readFileSync(resumedJson, 'utf8'));
    expect(log.steps.map((s: { loss: number }) => s.loss)).toEqual(steps.map((s) => s.loss));
    expect(existsSync(path.join(dying, 'train-checkpoint.json'))).toBe(false);

    const again = cli('train', dying, ...common, '--resume');
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/there is no training checkpoint at .*train-checkpoint\.json to resume from/);
  });

  it('refuses a checkpoint of another run', () => {
    const other = path.join(root, 'other');
    cpSync(project, other, { recursive: true });
    writeFileSync(path.join(other, 'train-checkpoint.json'), JSON.stringify({
      mcutrainCheckpoint: 1, identity: { modelSha256: 'x', dataSha256: 'y', samples: 12, seed: 3 }, epoch: 1, step: 0,
      sums: { loss: 0, correct: 0, ticks: 0, ms: 0 }, params: '', momentum: '', epochs: [], steps: [],
    }));
    const r = cli('train', other, '--data', path.join(root, 'train'), '--seed', '3', '--resume');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/the checkpoint .* belongs to another run: its modelSha256, dataSha256, paramLayout differ\(s\) from this one/);
  });
});
