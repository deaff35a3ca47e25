/**
 * The one kind of mutant the fuzzer compiles that the TensorFlow Lite interpreter refuses: a CONV_2D whose
 * optional bias input was cut off. TFLite requires a bias for int8 convolutions; TensorFlow Lite Micro,
 * whose semantics the engine follows, reads a missing bias as zero. This checks that reading: the engine
 * compiled from the bias-less file answers exactly as the interpreter does on the same file with the
 * bias kept but zeroed.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FlatBufferReader } from '../../src/import/flatbuffer_reader.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import { BufferTable, ModelTable } from '../../src/import/tflite_schema.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { buildProjectAsync } from '../../src/build/build_project.ts';
import { openProjectDevice } from '../../src/connect/connect.ts';
import { loadInterpreter } from '../oracle/tflite_interpreter.ts';
import { asBytes, asOracleArray, concat } from '../helpers/oracle_io.ts';
import { model, tempDir } from '../helpers/paths.ts';
import { randomBytes, rng } from '../helpers/random.ts';
import { fieldPosition, patched, setVectorLength, subgraphOf } from '../import/tflite_patch.ts';

const work = tempDir('nobias');
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('CONV_2D without its optional bias', () => {
  it('computes as with a zero bias: the engine matches the interpreter on the zero-bias twin', async () => {
    const original = new Uint8Array(readFileSync(model('vww96_int8.tflite')));
    const { operators, tensors } = subgraphOf(original);
    const op = 4;
    const conv = importTflite(original, 'vww96_int8.tflite').operators[op];
    expect(conv.kind).toBe('CONV_2D');
    const noBias = setVectorLength(original, operators[op], 'inputs', 2);
    const buffer = new FlatBufferReader(original).root(ModelTable).tableAtIndex('buffers', tensors[conv.inputs[2]].uint32('buffer'), BufferTable)!;
    const dataAt = fieldPosition(original, buffer, 'data')!;
    const data = dataAt + new DataView(original.buffer).getUint32(dataAt, true);
    const length = new DataView(original.buffer).getUint32(data, true);
    const zeroBias = patched(original, (_, bytes) => bytes.fill(0, data + 4, data + 4 + length));

    writeFileSync(path.join(work, 'no_bias.tflite'), noBias);
    const dir = path.join(work, 'project');
    const { manifest } = compileModel({ modelPath: path.join(work, 'no_bias.tflite'), target: 'host', outDir: dir, numerics: 'tflite' });
    await buildProjectAsync(dir, { sanitize: true });
    const device = await openProjectDevice(dir, manifest, { sanitized: true, timeoutMs: 120_000 });
    const oracle = await loadInterpreter(zeroBias);
    await expect(loadInterpreter(noBias)).rejects.toThrow(/has_bias/);
    try {
      const next = rng(0xb1a5);
      for (let s = 0; s < 4; s++) {
        const inputs = manifest.inputs.map((t) => randomBytes(t.bytes, next));
        const want = concat(oracle.run(inputs.map((b, i) => asOracleArray(b, manifest.inputs[i].dtype))).map(asBytes));
        expect(Array.from(await device.infer(concat(inputs))), `sample ${s}`).toEqual(Array.from(want));
      }
    } finally {
      oracle.dispose();
      await device.close();
    }
  }, 600_000);
});
