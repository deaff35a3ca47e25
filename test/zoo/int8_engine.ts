/**
 * The int8 contract for zoo models: quantized through the quantizer, compiled for the host with the
 * interpreter's numerics, built and run, the engine returns exactly the TFLite
 * interpreter's outputs.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProjectAsync } from '../../src/build/build_project.ts';
import { writeTflite } from '../../src/export/write_tflite.ts';
import type { Graph } from '../../src/ir/graph.ts';
import { openProjectDevice } from '../../src/connect/connect.ts';
import type { Device } from '../../src/link/device.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { modelStats } from '../../src/zoo/model_stats.ts';
import { buildZooModel } from '../../src/zoo/zoo.ts';
import { asBytes, asOracleArray, concat } from '../helpers/oracle_io.ts';
import { tempDir } from '../helpers/paths.ts';
import { randomBytes, rng } from '../helpers/random.ts';
import { loadInterpreter, type Oracle } from '../oracle/tflite_interpreter.ts';

export const SAMPLES = 5;

/**
 * `sanitize` builds the engines with ASan/UBSan, which triples the build time: the suite sanitizes
 * the small MLPerf models and builds the larger backbones plainly to stay fast.
 */
export function describeInt8Engine(names: string[], { sanitize }: { sanitize: boolean }): void {
  const work = tempDir('zoo-int8');
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  describe.each(names)('%s (int8): generated engine vs TFLite interpreter', (name) => {
    let graph: Graph;
    let device: Device | undefined;
    let oracle: Oracle | undefined;
    let manifest: ReturnType<typeof compileModel>['manifest'];

    beforeAll(async () => {
      graph = await buildZooModel(name, { int8: true, seed: 5, calibrationSamples: 2 });
      const bytes = writeTflite(graph);
      const file = path.join(work, `${name}.tflite`);
      writeFileSync(file, bytes);
      const dir = path.join(work, name);
      manifest = compileModel({ modelPath: file, target: 'host', outDir: dir, numerics: 'tflite' }).manifest;
      await buildProjectAsync(dir, { sanitize });
      device = await openProjectDevice(dir, manifest, { sanitized: sanitize, timeoutMs: 120_000 });
      oracle = await loadInterpreter(bytes, { expect: { inputs: manifest.inputs, outputs: manifest.outputs } });
    });
    afterAll(async () => {
      oracle?.dispose();
      await device?.close();
    });

    it('compiles with every layer counted: the engine\'s MACs are the model\'s', () => {
      expect(manifest.inputs.map((t) => t.dtype)).toEqual(['int8']);
      expect(manifest.macs).toBe(modelStats(graph).macs);
      expect(manifest.arenaBytes).toBeGreaterThan(0);
    });

    it(`matches bit for bit on ${SAMPLES} random inputs`, async () => {
      const next = rng(0x200 + name.length);
      let distinct = new Set<string>();
      for (let s = 0; s < SAMPLES; s++) {
        const inputs = manifest.inputs.map((t) => randomBytes(t.bytes, next));
        const got = await device!.infer(concat(inputs));
        const want = concat(oracle!.run(inputs.map((b, i) => asOracleArray(b, manifest.inputs[i].dtype))).map(asBytes));
        expect(Array.from(got), `sample ${s}`).toEqual(Array.from(want));
        distinct = new Set([...distinct, ...Array.from(want, String)]);
      }
      // Outputs stuck at one value would agree for the wrong reason.
      expect(distinct.size).toBeGreaterThan(2);
    });
  });
}
