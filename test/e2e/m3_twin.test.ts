/**
 * The emulated Cortex-M3 (QEMU mps2-an385: no FPU, no DSP), the twin of the cores the integer-only
 * engine is for (issue 12): the same firmware and link as the other MPS2 boards, built soft-float.
 *  - person_detect_int8 answers person.bmp / no_person.bmp bit for bit as the TFLite interpreter does
 *    (tflite numerics);
 *  - the float training engine, built soft-float, trains micro_speech (classifier weights and bias) to
 *    the same losses and learned bytes as the host build (ASan/UBSan).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { buildProjectAsync } from '../../src/build/build_project.ts';
import { readInputFile } from '../../src/data/input_file.ts';
import { openProjectDevice } from '../../src/connect/connect.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { readManifest } from '../../src/project/manifest.ts';
import type { Device } from '../../src/link/device.ts';
import { loadInterpreter } from '../oracle/tflite_interpreter.ts';
import { asBytes, asOracleArray, oracleBytes } from '../helpers/oracle_io.ts';
import { model, tempDir } from '../helpers/paths.ts';
import { randomBytes, rng } from '../helpers/random.ts';
import { BUILD_BUDGET_MS, buildTraining, openHostAndBoard, REPLY_TIMEOUT_MS, TEST_BUDGET_MS, type Built } from '../helpers/training_builds.ts';

const M3 = 'mps2-an385';
const work = tempDir('m3-twin');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const PERSON = 'person_detect_int8.tflite';
const SPEECH = 'micro_speech_int8.tflite';
let inference: string;
let host: Built;
let board: Built;

beforeAll(async () => {
  inference = path.join(work, 'person');
  compileModel({ modelPath: model(PERSON), target: M3, outDir: inference, numerics: 'tflite' });
  const train = { scheme: 'weights:layers=-1,bias:last=1', lr: 0.005, arith: 'float' as const }; // the float engine (the M3's default is integer-only)
  [, host, board] = await Promise.all([
    buildProjectAsync(inference),
    buildTraining(path.join(work, 'host'), model(SPEECH), 'host', true, train),
    buildTraining(path.join(work, 'an385'), model(SPEECH), M3, false, train),
  ]);
}, BUILD_BUDGET_MS);

describe('the emulated Cortex-M3 (mps2-an385)', () => {
  it('runs person_detect_int8 bit for bit as the TFLite interpreter', async () => {
    const manifest = readManifest(inference);
    const oracle = await loadInterpreter(oracleBytes(PERSON));
    const device = await openProjectDevice(inference, manifest, { timeoutMs: REPLY_TIMEOUT_MS });
    try {
      for (const image of ['person.bmp', 'no_person.bmp']) {
        const x = readInputFile(model(image), manifest.inputs, 'bytes');
        const want = asBytes(oracle.run([asOracleArray(x, manifest.inputs[0].dtype)])[0]);
        expect(Array.from(await device.infer(x)), image).toEqual(Array.from(want));
      }
    } finally {
      oracle.dispose();
      await device.close();
    }
  }, TEST_BUDGET_MS);

  it('trains with the soft-float build to the host\'s losses and learned bytes', async () => {
    const { hostDevice, boardDevice } = await openHostAndBoard(host, board);
    const t = host.manifest.training!;
    const next = rng(0x3a385);
    const samples = Array.from({ length: 4 }, () => randomBytes(t.inputBytes, next));
    try {
      const run = async (d: Device) => {
        const losses: number[] = [];
        for (let epoch = 0; epoch < 2; epoch++) for (let i = 0; i < samples.length; i++) losses.push((await d.trainStep(samples[i], i % 4)).loss);
        return { losses, params: await d.readParams('params') };
      };
      const h = await run(hostDevice);
      const b = await run(boardDevice);
      expect(b.losses).toEqual(h.losses);
      expect(Array.from(b.params)).toEqual(Array.from(h.params));
      console.log(`mps2-an385: losses ${b.losses.map((l) => l.toFixed(4)).join(' ')}; ${t.params.length} tensors, ${b.params.length} learned bytes as the host's`);
      expect(h.losses[h.losses.length - 1]).not.toBe(h.losses[0]); // it did train
    } finally {
      await hostDevice.close();
      await boardDevice.close();
    }
  }, TEST_BUDGET_MS);
});
