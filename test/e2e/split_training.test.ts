/**
 * Split trained tensors end to end (vww96_int8): a scheme with an output-channel fraction (layer 24,
 * the first 64 of 256 output channels) and input-channel fractions (layer 26, a 1x1 convolution: the
 * first 64 of 256 input channels; the classifier: the first 128 of 256 inputs), compiled, built and
 * trained over the link (layer 24 is 256 x 128, layer 26 256 x 256, the classifier 2 x 256; the
 * updates of layer 26 and the classifier read copies of their first inputs saved in the forward pass):
 * - only the trained blocks are parameters, and the generated code keeps the frozen rest in Flash;
 * - the gradients of the blocks (through the saved input slices) are float autodiff's, per tensor;
 * - the host build (ASan/UBSan) and the emulated Cortex-M7 learn the same bytes;
 * - the learned blocks written back into the .tflite (the frozen rest untouched) give a model whose
 *   plain inference engine answers exactly as the trained device does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { withTrainedParam } from '../../src/export/apply_weights.ts';
import { splitBlock } from '../../src/ir/tensor_block.ts';
import type { TrainOptions } from '../../src/project/compile_project.ts';
import type { Device } from '../../src/link/device.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import { readInputFile } from '../../src/data/input_file.ts';
import type { TrainParamInfo } from '../../src/project/manifest.ts';
import { cosineSimilarity, floatGradients } from '../oracle/float_gradients.ts';
import { model, tempDir } from '../helpers/paths.ts';
import { randomBytes, rng } from '../helpers/random.ts';
import { realGradient } from '../helpers/trained_gradients.ts';
import { BUILD_BUDGET_MS, buildHostAndBoard, expectTunedModelAnswersAs, openBuilt, openHostAndBoard, TEST_BUDGET_MS, type Built } from '../helpers/training_builds.ts';

const work = tempDir('split-train');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const VWW = 'vww96_int8.tflite';
const TRAIN: TrainOptions = { scheme: 'weights:layers=-4@1/4,-2@in1/4,-1@in1/2,bias:last=4,momentum=0.5', lr: 0.02 };

let host: Built;
let board: Built;
const open = openBuilt;

beforeAll(async () => {
  ({ host, board } = await buildHostAndBoard(work, model(VWW), TRAIN));
}, BUILD_BUDGET_MS);

/** A trained tensor's values restricted to its block (row by row), from the whole tensor's. */
function blockOf(p: TrainParamInfo, full: Float32Array): Float32Array {
  if (!p.slice) return full;
  const { rows, cols, rowSize } = p.slice;
  return Float32Array.from({ length: rows * cols }, (_, i) => full[Math.floor(i / cols) * rowSize + (i % cols)]);
}

describe('split trained tensors on vww96_int8', () => {
  it('keep only the trained blocks in SRAM, the frozen rest in Flash', () => {
    const weights = host.manifest.training!.params.filter((p) => p.kind === 'weights');
    expect(weights.map((p) => [p.layer, p.bytes, p.slice])).toEqual([
      [24, 64 * 128, { rows: 64, cols: 128, rowSize: 128 }],
      [26, 256 * 64, { rows: 256, cols: 64, rowSize: 256 }],
      [27, 2 * 128, { rows: 2, cols: 128, rowSize: 256 }],
    ]);
    const engine = readFileSync(path.join(host.dir, 'model.c'), 'utf8');
    expect(engine.match(/mt_copy_channels_s8\(/g)).toHaveLength(2); // the saved inputs of layer 26 and the classifier
    const source = readFileSync(path.join(host.dir, 'model_weights.c'), 'utf8');
    for (const p of weights) {
      expect(source).toMatch(new RegExp(`\\nint8_t mt_param_t${p.tensor}\\[${p.bytes}\\]`)); // SRAM
      expect(source).toMatch(new RegExp(`\\nconst int8_t mt_const_t${p.tensor}\\[${p.totalChannels * p.slice!.rowSize - p.bytes}\\]`)); // Flash
    }
  });

  it('compute float autodiff\'s gradients of the trained blocks', async () => {
    const device = await open(host);
    const graph = importTflite(new Uint8Array(readFileSync(model(VWW))), VWW);
    const t = host.manifest.training!;
    const logits = graph.tensors.find((x) => x.name === t.logits)!;
    try {
      await device.setHyper(0, 0.5); // lr 0: nothing moves, the momentum buffers receive exactly one gradient
      const next = rng(0x5b1);
      for (const label of [0, 1]) {
        const x = randomBytes(t.inputBytes, next);
        await device.trainStep(x, label);
        const momentum = new Float32Array((await device.readParams('momentum')).slice().buffer);
        const oracle = await floatGradients(graph, logits.id, t.params.map((p) => ({ tensor: p.tensor })), new Int8Array(x.buffer, x.byteOffset, x.length), label);
        for (const p of t.params.filter((q) => q.slice)) {
          // QAS: the momentum holds G / s per weight; the real gradient is that times the channel's scale
          const engine = realGradient(p, momentum.subarray(p.momentumOffset, p.momentumOffset + p.momentumFloats),
            graph.tensors[p.tensor].quant!.scale, 0, graph.operators[p.op].kind);
          const cos = cosineSimilarity(engine, blockOf(p, oracle.grads.get(p.tensor)!));
          console.log(`label ${label}: weights of layer ${p.layer}, block ${p.slice!.rows}x${p.slice!.cols}: cosine ${cos.toFixed(5)}`);
          expect(cos).toBeGreaterThan(0.98);
        }
        await device.writeParams('momentum', new Uint8Array(t.momentumBytes));
      }
    } finally {
      await device.close();
    }
  }, TEST_BUDGET_MS);

  it('learn the same bytes on the host and the emulated Cortex-M7, which written back into the .tflite give the trained device\'s answers', async () => {
    const { hostDevice, boardDevice } = await openHostAndBoard(host, board);
    const images = ['person.bmp', 'no_person.bmp'].map((f) => readInputFile(model(f), host.manifest.inputs, 'bytes'));
    const labels = [1, 0];
    try {
      const run = async (d: Device) => {
        const losses: number[] = [];
        for (let epoch = 0; epoch < 3; epoch++) for (let i = 0; i < images.length; i++) losses.push((await d.trainStep(images[i], labels[i])).loss);
        return { losses, params: await d.readParams('params') };
      };
      const h = await run(hostDevice);
      const b = await run(boardDevice);
      expect(Array.from(b.params)).toEqual(Array.from(h.params));
      expect(b.losses).toEqual(h.losses);

      const original = importTflite(new Uint8Array(readFileSync(model(VWW))), VWW);
      let graph = original;
      const changed: string[] = [];
      for (const p of host.manifest.training!.params) {
        const learned = h.params.subarray(p.offset, p.offset + p.bytes);
        graph = withTrainedParam(graph, p, learned);
        if (!p.slice) continue;
        const before = splitBlock(original.tensors[p.tensor].data!, p.slice), after = splitBlock(graph.tensors[p.tensor].data!, p.slice);
        expect(after.rest).toEqual(before.rest); // the frozen part is the model's
        expect(after.block).toEqual(learned);
        const n = after.block.reduce((k, v, i) => k + (v !== before.block[i] ? 1 : 0), 0);
        if (n > 0) changed.push(`layer ${p.layer}: ${n} of ${p.bytes} bytes`);
      }
      console.log(`learned blocks: ${changed.join(', ')}`);
      expect(changed.length).toBeGreaterThan(0); // the blocks did learn
      await expectTunedModelAnswersAs(hostDevice, graph, images, work);
    } finally {
      await hostDevice.close();
      await boardDevice.close();
    }
  }, TEST_BUDGET_MS);
});
