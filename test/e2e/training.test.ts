/**
 * The training engine end to end: compile with a scheme -> build -> TRAIN_STEP over the link.
 * - gradients of the generated engine against float autodiff of the same graph (tfjs-core), per tensor;
 * - training on real images lowers the loss, and the learned weights read back are the device's;
 * - the host build (ASan/UBSan) and the emulated Cortex-M7 give the same losses and weights, bit for bit;
 * - the learned weights written back into the .tflite reproduce the trained device's inference exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { withTrainedParam } from '../../src/export/apply_weights.ts';
import type { TrainOptions } from '../../src/project/compile_project.ts';
import type { Device } from '../../src/link/device.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import { readInputFile } from '../../src/data/input_file.ts';
import { cosineSimilarity, floatGradients, relativeError } from '../oracle/float_gradients.ts';
import { model, tempDir } from '../helpers/paths.ts';
import { randomBytes, rng } from '../helpers/random.ts';
import { realGradient, trainedPart } from '../helpers/trained_gradients.ts';
import { BUILD_BUDGET_MS, buildHostAndBoard, expectTunedModelAnswersAs, openBuilt, openHostAndBoard, TEST_BUDGET_MS, type Built } from '../helpers/training_builds.ts';

const work = tempDir('train');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const VWW = 'vww96_int8.tflite';
/** One scheme for every test, so each engine is built once: momentum, for the gradient test to read. */
const TRAIN: TrainOptions = { scheme: 'weights:layers=-1,-2@1/4,-3@1/2,bias:last=4,momentum=0.5', lr: 0.02 };
let host: Built;
let board: Built;
const open = openBuilt;

// The host build (ASan/UBSan) and the emulated Cortex-M7's, concurrently and off the test worker's event loop.
beforeAll(async () => {
  ({ host, board } = await buildHostAndBoard(work, model(VWW), TRAIN));
}, BUILD_BUDGET_MS);

describe('training engine on vww96_int8', () => {
  it('computes the gradients float autodiff computes, per trained tensor', async () => {
    const { manifest } = host;
    const device = await open(host);
    const graph = importTflite(new Uint8Array(readFileSync(model(VWW))), VWW);
    const t = manifest.training!;
    const logits = graph.tensors.find((x) => x.name === t.logits)!;
    try {
      const results: { cos: number; rel: number }[] = [];
      await device.setHyper(0, 0.5); // lr 0: nothing moves, the momentum buffers receive exactly one gradient
      const next = rng(0x9ad);
      for (const label of [0, 1]) {
        const x = randomBytes(t.inputBytes, next);
        const step = await device.trainStep(x, label);
        const momentum = new Float32Array((await device.readParams('momentum')).slice().buffer);
        const oracle = await floatGradients(graph, logits.id, t.params.map((p) => ({ tensor: p.tensor })), new Int8Array(x.buffer, x.byteOffset, x.length), label);
        expect(Math.abs(step.loss - oracle.loss) / oracle.loss).toBeLessThan(0.1);
        for (const p of t.params) {
          const op = graph.operators[p.op];
          const engine = realGradient(p, momentum.subarray(p.momentumOffset, p.momentumOffset + p.momentumFloats),
            graph.tensors[op.inputs[1]].quant!.scale, graph.tensors[op.inputs[0]].quant!.scale[0], op.kind);
          const want = trainedPart(p, oracle.grads.get(p.tensor)!, op.kind);
          const cos = cosineSimilarity(engine, want);
          const rel = relativeError(engine, want);
          const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
          console.log(`label ${label} ${p.kind} of layer ${p.layer} (${op.kind}, ${p.channels}/${p.totalChannels} ch): cosine ${cos.toFixed(5)}, ` +
            `relative error ${rel.toFixed(4)}, norm ratio ${(norm(engine) / norm(want)).toFixed(4)}`);
          results.push({ cos, rel });
        }
        await device.writeParams('momentum', new Uint8Array(t.momentumBytes)); // next sample starts from zero state
      }
      // The engine differentiates its own int8 forward pass, the oracle a float one: they part where a
      // rounding moves an activation across a ReLU bound, more so the deeper the layer (measured: cosine
      // >= 0.988, relative error <= 0.26, the worst three layers down from the loss).
      for (const r of results) {
        expect(r.cos).toBeGreaterThan(0.98);
        expect(r.rel).toBeLessThan(0.3);
      }
    } finally {
      await device.close();
    }
  }, TEST_BUDGET_MS);

  it('lowers the loss on real images, and gives the same losses and weights on the host and the emulated Cortex-M7', async () => {
    const { hostDevice, boardDevice } = await openHostAndBoard(host, board);
    const images = ['person.bmp', 'no_person.bmp'].map((f) => readInputFile(model(f), host.manifest.inputs, 'bytes'));
    const labels = [1, 0];
    try {
      const run = async (d: Device) => {
        const before = await Promise.all(images.map((x, i) => d.evaluate(x, labels[i])));
        const losses: number[] = [];
        for (let epoch = 0; epoch < 4; epoch++) for (let i = 0; i < images.length; i++) losses.push((await d.trainStep(images[i], labels[i])).loss);
        const after = await Promise.all(images.map((x, i) => d.evaluate(x, labels[i])));
        return { before: before.map((r) => r.loss), losses, after: after.map((r) => r.loss), params: Array.from(await d.readParams('params')) };
      };
      const h = await run(hostDevice);
      const b = await run(boardDevice);
      const sum = (v: number[]) => v.reduce((s, x) => s + x, 0);
      console.log(`loss before ${h.before.map((x) => x.toFixed(4)).join(', ')}, after ${h.after.map((x) => x.toFixed(4)).join(', ')}`);
      expect(sum(h.after)).toBeLessThan(sum(h.before));
      expect(b.losses).toEqual(h.losses);
      expect(b.before).toEqual(h.before);
      expect(b.after).toEqual(h.after);
      expect(b.params).toEqual(h.params);

      // The learned weights written back into a copy of the .tflite (what `mcutrain weights` does) give a
      // model whose plain inference engine answers exactly as the trained device does.
      let graph = importTflite(new Uint8Array(readFileSync(model(VWW))), VWW);
      const learned = Uint8Array.from(h.params);
      for (const p of host.manifest.training!.params) graph = withTrainedParam(graph, p, learned.subarray(p.offset, p.offset + p.bytes));
      await expectTunedModelAnswersAs(hostDevice, graph, images, work);
    } finally {
      await hostDevice.close();
      await boardDevice.close();
    }
  }, TEST_BUDGET_MS);
});
