/**
 * int4 weights without an interpreter (the bundled TFLite interpreter cannot run INT4): a model whose
 * int8 weights all lie in [-7, 7] must give byte-identical outputs when the same weights are stored as
 * int4, packed two per byte, and read by the _s4w kernels (engine on the host, ASan/UBSan build).
 * ds-cnn exercises CONV_2D (3x3 and 1x1), DEPTHWISE_CONV_2D and FULLY_CONNECTED.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProjectAsync } from '../../src/build/build_project.ts';
import { withConstantData } from '../../src/export/apply_weights.ts';
import { writeTflite } from '../../src/export/write_tflite.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import type { Graph } from '../../src/ir/graph.ts';
import { constantValues } from '../../src/ir/tensor_data.ts';
import { openProjectDevice } from '../../src/connect/connect.ts';
import type { Device } from '../../src/link/device.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { buildZooModel } from '../../src/zoo/zoo.ts';
import { tempDir } from '../helpers/paths.ts';
import { randomBytes, rng } from '../helpers/random.ts';

const SAMPLES = 20;
const MAC_KINDS = new Set(['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED']);

/** The filters of the graph's MAC operators. */
function filterIds(graph: Graph): number[] {
  return [...new Set(graph.operators.filter((op) => MAC_KINDS.has(op.kind)).map((op) => op.inputs[1]))];
}

const SQUEEZE = 18;

/**
 * The graph with every MAC filter squeezed into [-7, 7] (still int8): weights and biases divided by
 * SQUEEZE, their scales multiplied by it, so the activations keep their ranges through the layers
 * (otherwise they would fade to the zero point and hide wrong weights).
 */
function smallWeights(graph: Graph): Graph {
  const macs = graph.operators.filter((op) => MAC_KINDS.has(op.kind));
  const rescale = (g: Graph, id: number, values: Int8Array | Int32Array): Graph => {
    const t = g.tensors[id];
    const tensors = g.tensors.slice();
    tensors[id] = { ...t, quant: { ...t.quant!, scale: t.quant!.scale.map((x) => x * SQUEEZE) } };
    return withConstantData({ ...g, tensors }, id, values);
  };
  let g = graph;
  for (const id of new Set(macs.map((op) => op.inputs[1]))) {
    const w = constantValues(g.tensors[id]);
    g = rescale(g, id, Int8Array.from(w, (v) => Math.max(-7, Math.min(7, Math.round(v / SQUEEZE)))));
  }
  for (const id of new Set(macs.map((op) => op.inputs[2]).filter((id) => id !== undefined && id >= 0))) {
    g = rescale(g, id, Int32Array.from(constantValues(g.tensors[id]), (v) => Math.round(v / SQUEEZE)));
  }
  return g;
}

/** The same graph with those filters stored as int4. */
function asInt4(graph: Graph): Graph {
  return filterIds(graph).reduce((g, id) => {
    const t = g.tensors[id];
    const tensors = g.tensors.slice();
    tensors[id] = { ...t, dtype: 'int4' };
    return withConstantData({ ...g, tensors }, id, Int8Array.from(constantValues(t)));
  }, graph);
}

const work = tempDir('int4');
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('ds-cnn with weights in [-7, 7]: int4 engine vs int8 engine', () => {
  const engines: { device: Device; inputBytes: number; constBytes: number; kernels: string[] }[] = [];

  beforeAll(async () => {
    const int8 = smallWeights(await buildZooModel('ds-cnn', { int8: true, seed: 5, calibrationSamples: 2 }));
    for (const [name, graph] of [['int8', int8], ['int4', asInt4(int8)]] as const) {
      const file = path.join(work, `${name}.tflite`);
      writeFileSync(file, writeTflite(graph));
      const dir = path.join(work, name);
      const { manifest, analysis } = compileModel({ modelPath: file, target: 'host', outDir: dir });
      await buildProjectAsync(dir, { sanitize: true });
      const device = await openProjectDevice(dir, manifest, { sanitized: true, timeoutMs: 120_000 });
      engines.push({ device, inputBytes: manifest.inputs[0].bytes, constBytes: manifest.constBytes, kernels: analysis.calls.map((c) => c.fn ?? '') });
    }
  }, 240_000);
  afterAll(async () => {
    for (const e of engines) await e.device.close();
  });

  it('round-trips the int4 filters through the file, packed', async () => {
    const int8 = smallWeights(await buildZooModel('ds-cnn', { int8: true, seed: 5, calibrationSamples: 2 }));
    const back = importTflite(writeTflite(asInt4(int8)));
    for (const id of filterIds(int8)) {
      expect(back.tensors[id].dtype).toBe('int4');
      expect(back.tensors[id].data!.length).toBe(Math.ceil(int8.tensors[id].data!.length / 2));
      expect(Array.from(constantValues(back.tensors[id]))).toEqual(Array.from(constantValues(int8.tensors[id])));
    }
  });

  it('selects the _s4w kernels and stores the weights in half the Flash', () => {
    const [int8, int4] = engines;
    expect(int4.kernels.filter((k) => k.endsWith('_s4w')).sort()).toEqual(
      int8.kernels.filter((k) => /^mt_(conv|depthwise_conv|fully_connected)_s8$/.test(k)).map((k) => k.replace('_s8', '_s4w')).sort());
    expect(new Set(int4.kernels)).toContain('mt_depthwise_conv_s4w');
    expect(int4.constBytes).toBeLessThan(int8.constBytes);
  });

  it(`matches bit for bit on ${SAMPLES} random inputs`, async () => {
    const [int8, int4] = engines;
    const next = rng(0x1474);
    const distinct = new Set<number>();
    for (let s = 0; s < SAMPLES; s++) {
      const input = randomBytes(int8.inputBytes, next);
      const want = await int8.device.infer(input);
      const got = await int4.device.infer(input);
      expect(Array.from(got), `sample ${s}`).toEqual(Array.from(want));
      want.forEach((v) => distinct.add(v));
    }
    // Outputs stuck at one value would agree for the wrong reason.
    expect(distinct.size).toBeGreaterThan(2);
  });
});
