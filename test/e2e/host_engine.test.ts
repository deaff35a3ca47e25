/**
 * The foundation's contract: for every int8 reference model, the generated engine (built with
 * ASan/UBSan, -Wall -Wextra -Werror) returns exactly the TensorFlow Lite interpreter's outputs when
 * compiled with the interpreter's numerics, and TFLite Micro's reference-test answers with the
 * default (TFLM) numerics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { compileModel } from '../../src/project/compile_project.ts';
import { buildProjectAsync } from '../../src/build/build_project.ts';
import { openProjectDevice } from '../../src/connect/connect.ts';
import type { Device } from '../../src/link/device.ts';
import { readInputFile } from '../../src/data/input_file.ts';
import { loadInterpreter, type Oracle } from '../oracle/tflite_interpreter.ts';
import { model, tempDir } from '../helpers/paths.ts';
import { randomBytes, rng } from '../helpers/random.ts';
import { asBytes, asOracleArray, concat, oracleBytes } from '../helpers/oracle_io.ts';

const ORACLE_MODELS: { file: string; samples: number }[] = [
  { file: 'hello_world_int8.tflite', samples: 200 },
  { file: 'micro_speech_int8.tflite', samples: 100 },
  { file: 'ad01_int8.tflite', samples: 100 },
  { file: 'vww96_int8.tflite', samples: 30 },
  { file: 'person_detect_int8.tflite', samples: 30 },
];


const work = tempDir('e2e');
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each(ORACLE_MODELS)('$file: generated engine vs TFLite interpreter', ({ file, samples }) => {
  let device: Device;
  let oracle: Oracle;
  let manifest: ReturnType<typeof compileModel>['manifest'];

  beforeAll(async () => {
    const dir = path.join(work, file.replace(/\W/g, '_'));
    manifest = compileModel({ modelPath: model(file), target: 'host', outDir: dir, numerics: 'tflite' }).manifest;
    await buildProjectAsync(dir, { sanitize: true });
    device = await openProjectDevice(dir, manifest, { sanitized: true, timeoutMs: 120_000 });
    oracle = await loadInterpreter(oracleBytes(file), { expect: { inputs: manifest.inputs, outputs: manifest.outputs } });
  });
  afterAll(async () => {
    oracle?.dispose();
    await device?.close();
  });

  it(`matches bit for bit on ${samples} random inputs`, async () => {
    const next = rng(0x5eed + samples);
    let mismatches = 0;
    for (let s = 0; s < samples; s++) {
      const inputs = manifest.inputs.map((t) => randomBytes(t.bytes, next));
      const got = await device.infer(concat(inputs));
      const want = concat(oracle.run(inputs.map((b, i) => asOracleArray(b, manifest.inputs[i].dtype))).map(asBytes));
      if (!equalBytes(got, want)) mismatches++;
      if (mismatches === 1 && !equalBytes(got, want)) {
        expect(Array.from(got.slice(0, 64)), `first mismatch, sample ${s}`).toEqual(Array.from(want.slice(0, 64)));
      }
    }
    expect(mismatches).toBe(0);
  });
});

describe('person_detect_int8.tflite with TFLM numerics (TFLM reference test expectations)', () => {
  it('scores person higher on person.bmp and no-person higher on no_person.bmp', async () => {
    const dir = path.join(work, 'person_detect');
    const { manifest } = compileModel({ modelPath: model('person_detect_int8.tflite'), target: 'host', outDir: dir });
    await buildProjectAsync(dir, { sanitize: true });
    const device = await openProjectDevice(dir, manifest, { sanitized: true, timeoutMs: 120_000 });
    try {
      const scores = async (img: string) => new Int8Array((await device.infer(readInputFile(model(img), manifest.inputs, 'bytes'))).buffer);
      const person = await scores('person.bmp');
      const noPerson = await scores('no_person.bmp');
      // Output classes: 0 = no person, 1 = person.
      expect(person[1]).toBeGreaterThan(person[0]);
      expect(noPerson[0]).toBeGreaterThan(noPerson[1]);
    } finally {
      await device.close();
    }
  });
});

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
