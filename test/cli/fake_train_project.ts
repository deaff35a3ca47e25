/**
 * A hand-made training project for the CLI tests: a single FULLY_CONNECTED model.tflite with tensors the
 * size of the fake training engine's params (firmware/test/fake_model.c), its mcutrain.json, the fake as
 * its host engine (ASan/UBSan), and labelled .npy sample folders. (The fake's step: loss = label +
 * sum(sample)/1024 + bias[label]; an update adds 1 to weights[label] and bias[label].)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodeNpy } from '../../src/data/npy.ts';
import { writeTflite } from '../../src/export/write_tflite.ts';
import type { ProjectManifest } from '../../src/project/manifest.ts';
import { GraphBuilder } from '../lower/graph_builder.ts';
import { REPO, tempDir } from '../helpers/paths.ts';
import { buildFakeEngine } from '../link/fake_engine.ts';

export function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(REPO, 'bin/mcutrain.js'), ...args], { encoding: 'utf8', cwd: REPO });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

export const SAMPLE = 16;
export const BIAS0 = [100, -200, 300];

export let weightsId: number;
export let biasId: number;
/** Samples of the training set in the order readLabelledFolder gives them, with their labels. */

export function makeModel(): Uint8Array {
  const b = new GraphBuilder();
  const x = b.activation('x', [1, 2000], 0.5, 0);
  weightsId = b.weights('fc/weights', [3, 2000], Array.from({ length: 6000 }, () => 1), [0.01]);
  biasId = b.bias('fc/bias', [1, 2, 3], 0.005);
  const y = b.activation('logits', [1, 3], 0.1, 0);
  b.op('FULLY_CONNECTED', [x, weightsId, biasId], [y], { activation: 'NONE', keepNumDims: false });
  return writeTflite({ ...b.graph(), name: 'fc', inputs: [x], outputs: [y] });
}

export function writeSamples(folder: string, perClass: number, seed: number, into: { sum: number; label: number }[]): void {
  for (let label = 0; label < 3; label++) {
    mkdirSync(path.join(folder, String(label)), { recursive: true });
    for (let k = 0; k < perClass; k++) {
      const values = Int8Array.from({ length: SAMPLE }, (_, i) => ((i * 31 + k * 17 + label * 5 + seed) % 200) - 100);
      writeFileSync(path.join(folder, String(label), `s${k}.npy`), encodeNpy('int8', [1, SAMPLE], new Uint8Array(values.buffer)));
      into.push({ sum: values.reduce((a, v) => a + v, 0), label });
    }
  }
}

export function manifestFor(sha256: string, training = true): ProjectManifest {
  return {
    mcutrain: '0.1.0', model: { file: 'fc.tflite', sha256 }, target: 'host', numerics: 'tflm', buildId: 'fake-model-build',
    arenaBytes: 2052, lowerBoundBytes: 2052, constBytes: 1234, macs: 6000,
    inputs: [{ name: 'image', dtype: 'int8', shape: [1, SAMPLE], bytes: SAMPLE, scale: 0.5, zeroPoint: 0 }],
    outputs: [{ name: 'logits', dtype: 'int8', shape: [1, 3], bytes: 3, scale: 0.1, zeroPoint: 0 }],
    ops: [{ index: 0, kind: 'FULLY_CONNECTED', macs: 6000 }],
    training: training ? {
      scheme: 'bias:last=1,weights:layers=0@0.25', qas: true, classes: 3, logits: 'logits', lr: 0.05, momentum: 0, inputBytes: SAMPLE,
      params: [
        { name: 'fc/weights', tensor: weightsId, kind: 'weights', dtype: 'int8', bytes: 6000, offset: 0, channels: 1, totalChannels: 3,
          momentumFloats: 2000, momentumOffset: 0, layer: 0, op: 0 },
        { name: 'fc/bias', tensor: biasId, kind: 'bias', dtype: 'int32', bytes: 12, offset: 6000, channels: 3, totalChannels: 3,
          momentumFloats: 3, momentumOffset: 2000, layer: 0, op: 0 },
      ],
      paramBytes: 6012, momentumBytes: 8012, trainArenaBytes: 0, trainLowerBoundBytes: 0, macsForward: 6000, macsBackward: 6000,
    } : undefined,
  };
}

/** The fake as the project's host engine, built off the event loop (ASan/UBSan). */
export function buildEngine(dir: string, sha256: string, defines: string[] = []): Promise<void> {
  const hash = `{${sha256.slice(0, 16).match(/../g)!.map((h) => `0x${h}`).join(',')}}`;
  return buildFakeEngine(path.join(dir, 'engine'), [`-DFAKE_MODEL_HASH=${hash}`, ...defines]);
}

export const lossOf = (s: { sum: number; label: number }, bias: number) => Math.fround(Math.fround(s.label + s.sum / 1024) + bias);

/** The project in `root`/project, with 4 training and 2 validation samples per class in `root`/train and `root`/val. */
export async function makeProject(name: string) {
  const root = tempDir(name);
  const project = path.join(root, 'project');
  mkdirSync(project);
  const model = makeModel();
  const sha = createHash('sha256').update(model).digest('hex');
  writeFileSync(path.join(project, 'model.tflite'), model);
  writeFileSync(path.join(project, 'mcutrain.json'), JSON.stringify(manifestFor(sha), null, 2));
  await buildEngine(project, sha);
  /** Samples of the training set in the order readLabelledFolder gives them, with their labels. */
  const trainSet: { sum: number; label: number }[] = [];
  const valSet: { sum: number; label: number }[] = [];
  writeSamples(path.join(root, 'train'), 4, 0, trainSet);
  writeSamples(path.join(root, 'val'), 2, 7, valSet);
  return { root, project, trainSet, valSet };
}
