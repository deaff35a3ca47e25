/**
 * The reference models on the default emulated board (QEMU mps2-an500, Cortex-M7): compile -> build
 * with arm-none-eabi-gcc -> run over the emulated UART, bit-exact with the TFLite interpreter; and the
 * same firmware with TFLM numerics gives the same outputs as the host build (one source of truth).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { compileModel } from '../../src/project/compile_project.ts';
import { readManifest } from '../../src/project/manifest.ts';
import { buildProjectAsync } from '../../src/build/build_project.ts';
import { openProjectDevice } from '../../src/connect/connect.ts';
import { loadInterpreter } from '../oracle/tflite_interpreter.ts';
import { model, tempDir } from '../helpers/paths.ts';
import { randomBytes, rng } from '../helpers/random.ts';
import { asBytes, asOracleArray, concat, oracleBytes } from '../helpers/oracle_io.ts';

const MODELS = ['hello_world_int8.tflite', 'micro_speech_int8.tflite', 'ad01_int8.tflite', 'vww96_int8.tflite', 'person_detect_int8.tflite'];
const SAMPLES = 4;
const work = tempDir('board');
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each(MODELS)('%s on the emulated Cortex-M7', (file) => {
  it('matches the TFLite interpreter bit for bit (tflite numerics) and the host build (tflm numerics)', async () => {
    const inputsFor = (bytes: number) => {
      const next = rng(0xb0a2d);
      return Array.from({ length: SAMPLES }, () => randomBytes(bytes, next));
    };
    // Interpreter numerics on the board vs the interpreter.
    const boardDir = path.join(work, `${file}-an500`);
    compileModel({ modelPath: model(file), target: 'mps2-an500', outDir: boardDir, numerics: 'tflite' });
    await buildProjectAsync(boardDir);
    const manifest = readManifest(boardDir); // as built: with the image's hash, which a board device checks
    const samples = inputsFor(manifest.inputs.reduce((s, t) => s + t.bytes, 0));
    const oracle = await loadInterpreter(oracleBytes(file));
    const board = await openProjectDevice(boardDir, manifest, { timeoutMs: 120_000 });
    try {
      for (const x of samples) {
        let o = 0;
        const parts = manifest.inputs.map((t) => x.slice(o, (o += t.bytes)));
        const want = concat(oracle.run(parts.map((p, i) => asOracleArray(p, manifest.inputs[i].dtype))).map(asBytes));
        expect(Array.from(await board.infer(x))).toEqual(Array.from(want));
      }
    } finally {
      oracle.dispose();
      await board.close();
    }

    // TFLM numerics: the board and the host build run the same C, so they agree exactly.
    const tflm = await Promise.all(['mps2-an500', 'host'].map(async (target) => {
      const dir = path.join(work, `${file}-${target}-tflm`);
      compileModel({ modelPath: model(file), target, outDir: dir });
      await buildProjectAsync(dir);
      const device = await openProjectDevice(dir, readManifest(dir), { timeoutMs: 120_000 });
      try {
        const outs = [];
        for (const x of samples) outs.push(Array.from(await device.infer(x)));
        return outs;
      } finally {
        await device.close();
      }
    }));
    expect(tflm[0]).toEqual(tflm[1]);
  });
});
