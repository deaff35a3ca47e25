/**
 * Patch-based execution of the early stage: the same outputs bit for bit (host build under ASan/UBSan),
 * a smaller arena (exact figures), and never on a stage the backward pass reaches into.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { analyzeModel } from '../../src/pipeline/pipeline.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { buildProjectAsync } from '../../src/build/build_project.ts';
import { openProjectDevice } from '../../src/connect/connect.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import { lowerGraph } from '../../src/lower/lower.ts';
import { patchStage, stageCandidates } from '../../src/plan/patch_stage.ts';
import { planMemory } from '../../src/plan/plan_memory.ts';
import { parseScheme } from '../../src/train/scheme.ts';
import { writeTflite } from '../../src/export/write_tflite.ts';
import { buildZooModel } from '../../src/zoo/zoo.ts';
import { writeFileSync } from 'node:fs';
import { model, tempDir } from '../helpers/paths.ts';
import { randomBytes, rng } from '../helpers/random.ts';

const work = tempDir('patch');
afterAll(() => rmSync(work, { recursive: true, force: true }));
const VWW = model('vww96_int8.tflite');

async function outputs(file: string, patches: 'auto' | 'off', samples: Uint8Array[]): Promise<{ arena: number; grid?: number; outs: number[][] }> {
  const dir = path.join(work, `${path.basename(file)}-${patches}`);
  const { manifest } = compileModel({ modelPath: file, target: 'host', outDir: dir, patches });
  await buildProjectAsync(dir, { sanitize: true });
  const device = await openProjectDevice(dir, manifest, { sanitized: true, timeoutMs: 60_000 });
  try {
    const outs = [];
    for (const x of samples) outs.push(Array.from(await device.infer(x)));
    return { arena: manifest.arenaBytes, grid: manifest.patches?.grid, outs };
  } finally {
    await device.close();
  }
}

describe('patch-based early stage', () => {
  it.each([
    ['vww96_int8.tflite', async () => VWW, 55_296, 38_576],
    ['mcunet-5fps (zoo, 128x128)', async () => {
      const file = path.join(work, 'mcunet.tflite');
      writeFileSync(file, writeTflite(await buildZooModel('mcunet-5fps', { int8: true })));
      return file;
    }, 163_840, 73_200],
  ])('%s: identical outputs in a smaller arena', async (_, file, whole, patched) => {
    const f = await file();
    const bytes = readFileSync(f);
    const graph = importTflite(new Uint8Array(bytes), 'm');
    const inputBytes = graph.tensors[graph.inputs[0]].shape.reduce((a, b) => a * b, 1);
    const next = rng(0x9a7c);
    const samples = Array.from({ length: 3 }, () => randomBytes(inputBytes, next));
    const off = await outputs(f, 'off', samples);
    const on = await outputs(f, 'auto', samples);
    expect(off.arena).toBe(whole);
    expect(on.arena).toBe(patched);
    expect(on.grid).toBeGreaterThan(1);
    expect(on.outs).toEqual(off.outs);
  });

  it('splits only stages with one input and one output, and rejects grids finer than the output', () => {
    const graph = importTflite(new Uint8Array(readFileSync(VWW)), 'vww96');
    const calls = lowerGraph(graph);
    const ends = stageCandidates(graph, calls);
    expect(ends.length).toBeGreaterThan(3);
    const p = patchStage(graph, calls, ends[0], 2)!;
    expect(p.stage.ops).toEqual(calls.slice(0, ends[0] + 1).map((c) => c.op));
    expect(p.stage.extraMacs).toBeGreaterThan(0);
    // Every original tensor keeps its id; the patch buffers come after them.
    expect(p.graph.tensors.slice(0, graph.tensors.length).map((t) => t.id)).toEqual(graph.tensors.map((t) => t.id));
    // A short stage in coarse patches can cost more than it saves (halos, copies); a longer one saves.
    const patched = ends.map((e) => patchStage(graph, calls, e, 4)).filter((x) => x !== null);
    const best = Math.min(...patched.map((x) => planMemory(x.graph, x.schedule).arenaBytes));
    expect(best).toBeLessThan(planMemory(graph, calls).arenaBytes);
    const last = ends[ends.length - 1];
    const outH = graph.tensors[graph.operators[calls[last].op].outputs[0]].shape[1];
    expect(patchStage(graph, calls, last, outH + 1)).toBeNull();
  });

  it('keeps every operator the backward pass reaches out of the stage', () => {
    const bytes = new Uint8Array(readFileSync(VWW));
    // Training from layer 10 on: the stage may only hold operators before it.
    const a = analyzeModel(bytes, 'vww96', 'tflm', parseScheme('bias:last=17,weights:layers=27'));
    const touched = new Set(a.training!.backwardCalls.map((c) => c.op));
    for (const op of a.patches?.ops ?? []) expect(touched.has(op)).toBe(false);
    const shallow = analyzeModel(bytes, 'vww96', 'tflm', parseScheme('bias:last=2'));
    expect(shallow.patches).toBeDefined();
    expect(shallow.training!.plan.arenaBytes).toBeLessThan(55_296);
  });
});
