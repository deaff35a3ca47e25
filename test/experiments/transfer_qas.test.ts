/**
 * Transfer learning with Sparse Update, reduced from experiments/transfer_qas.ts (its QUICK config): a
 * MobileNet-style net pretrained (seeded) on MNIST digits 0-4, quantized by mcutrain, fine-tuned on
 * digits 5-9. The float SGD reference must lower the loss on the new task while touching only the
 * scheme's tensors; the int8 engine runs (with and without QAS) are checked once the training engine
 * exists (Device.trainStep / evaluate / setHyper).
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Graph } from '../../src/ir/graph.ts';
import { readFloat32 } from '../../src/ir/tensor_data.ts';
import { parseScheme } from '../../src/train/scheme.ts';
import { sgdStep, TrainableGraph } from '../helpers/graph_training.ts';
import { batchTensor, shuffled } from '../helpers/mnist_pipeline.ts';
import {
  buildTransferNet, evaluateFloat, fineTuneEngine, fineTuneFloat, openTrainingEngine, pretrain, QUICK, quantizeToFile, SCHEME,
  transferData, type FineTuneResult, type TransferData,
} from '../helpers/transfer_pipeline.ts';
import { tempDir } from '../helpers/paths.ts';

const SEED = 1;
const scheme = parseScheme(SCHEME);
const mean = (xs: readonly number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;

describe('transfer 0-4 -> 5-9 with a sparse scheme (reduced experiments/transfer_qas.ts)', () => {
  const work = tempDir('transfer-qas');
  let data: TransferData;
  let floatGraph: Graph;
  let order: TransferData['fineTune'];
  let floatRun: FineTuneResult;
  let tflite: string;

  beforeAll(async () => {
    data = transferData(QUICK.counts, SEED);
    const model = await pretrain(buildTransferNet(SEED), data.pretrain, { ...QUICK.pretrain, seed: SEED });
    try {
      // The pretrained net must have learnt the source task, or the transfer says nothing.
      expect(evaluateFloat(model, data.sourceTest).accuracy).toBeGreaterThan(0.7);
      floatGraph = model.toGraph();
    } finally {
      model.dispose();
    }
    order = shuffled(data.fineTune, SEED + 7);
    tflite = path.join(work, 'transfer_int8.tflite');
    await quantizeToFile(floatGraph, data.pretrain.slice(0, QUICK.calibration), tflite);
    floatRun = await fineTuneFloat(floatGraph, scheme, order, data.targetTest, QUICK.lrGrid.float[0]);
  }, 300_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('float SGD on the scheme\'s tensors lowers the loss on the new task', () => {
    const quarter = Math.floor(floatRun.stepLosses.length / 4);
    expect(mean(floatRun.stepLosses.slice(-quarter))).toBeLessThan(mean(floatRun.stepLosses.slice(0, quarter)) - 0.1);
    expect(floatRun.after.loss).toBeLessThan(floatRun.before.loss - 0.5);
    expect(floatRun.after.accuracy).toBeGreaterThan(floatRun.before.accuracy + 0.05);
  });

  it('the float reference updates exactly the scheme\'s tensors', () => {
    const model = new TrainableGraph(floatGraph);
    try {
      const params = model.sparseParameters(scheme);
      const n = model.layers.length;
      // bias:last=4 -> the biases of layers n-4..n-1; weights:layers=-1,-2 -> the last two layers' weights.
      expect(params.map((p) => p.variable)).toEqual([
        model.layers[n - 1].weights, model.layers[n - 2].weights, ...model.layers.slice(n - 4).map((l) => l.bias),
      ]);
      const x = batchTensor([order[0]]);
      sgdStep(model, params, x, [order[0].label], 0.1);
      x.dispose();
      const after = model.toGraph();
      const trained = new Set(params.map((p) => p.variable));
      for (const layer of model.layers) {
        for (const v of [layer.weights, layer.bias]) {
          if (!v) continue;
          const id = after.operators[layer.op.id].inputs[v === layer.weights ? 1 : 2];
          const changed = readFloat32(after.tensors[id]).some((value, i) => value !== readFloat32(floatGraph.tensors[id])[i]);
          expect(changed, `${after.tensors[id].name}`).toBe(trained.has(v));
        }
      }
    } finally {
      model.dispose();
    }
  });

  describe('int8 engine (host)', () => {
    it('with QAS lowers the loss and comes close to float; without QAS it does worse', async () => {
      const runs: FineTuneResult[] = [];
      for (const [i, useQas] of [false, true].entries()) {
        const engine = await openTrainingEngine(tflite, SCHEME, useQas, path.join(work, `train${i}`));
        try {
          runs.push(await fineTuneEngine(engine, order, data.targetTest, useQas ? QUICK.lrGrid.qas[0] : QUICK.lrGrid.noQas[0]));
        } finally {
          await engine.device.close();
        }
      }
      const [without, withQas] = runs;
      console.log(`transfer (quick): float ${floatRun.before.accuracy} -> ${floatRun.after.accuracy}; `
        + `int8 no QAS ${without.before.accuracy} -> ${without.after.accuracy}; int8 + QAS ${withQas.before.accuracy} -> ${withQas.after.accuracy}`);
      expect(withQas.after.loss).toBeLessThan(withQas.before.loss - 0.1);
      expect(withQas.after.accuracy).toBeGreaterThan(floatRun.after.accuracy - 0.1);
      // The paper's claim at one lr: without QAS the int8 updates are orders of magnitude too small.
      expect(without.after.loss).toBeGreaterThan(withQas.after.loss);
    }, 300_000);
  });
});
