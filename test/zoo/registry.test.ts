/** The zoo registry and its CLI command: options, determinism, and clear errors for bad requests. */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ZOO_COMMAND } from '../../src/cli/zoo_command.ts';
import { COMMANDS } from '../../src/cli/commands.ts';
import { McutrainError } from '../../src/errors.ts';
import { writeTflite } from '../../src/export/write_tflite.ts';
import { importTfliteFile } from '../../src/import/import_tflite.ts';
import { readFloat32 } from '../../src/ir/tensor_data.ts';
import { modelStats } from '../../src/zoo/model_stats.ts';
import { buildZooFloatGraph, buildZooModel, parseInputSize, ZOO, zooEntry, zooNames } from '../../src/zoo/zoo.ts';
import { tempDir } from '../helpers/paths.ts';

const work = tempDir('zoo-cli');
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

function expectError(f: () => unknown, message: RegExp, hint?: RegExp): void {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(McutrainError);
  expect((caught as McutrainError).message).toMatch(message);
  if (hint) expect((caught as McutrainError).hint).toMatch(hint);
}

async function expectRejection(p: Promise<unknown>, message: RegExp): Promise<void> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(McutrainError);
  expect((e as McutrainError).message).toMatch(message);
}

describe('registry', () => {
  it('lists the six architectures with their defaults', () => {
    expect(zooNames()).toEqual(['mobilenetv2-w0.35', 'proxylessnas-w0.3', 'mcunet-5fps', 'mobilenetv1-0.25', 'resnet-8', 'ds-cnn']);
    expect(ZOO.find((e) => e.name === 'ds-cnn')).toMatchObject({ input: [49, 10, 1], classes: 12 });
    for (const e of ZOO) expect(e.description.length).toBeGreaterThan(10);
  });

  it('names every known model when asked for an unknown one', () => {
    expectError(() => zooEntry('mobilenetv3'), /unknown zoo model 'mobilenetv3'/, new RegExp(zooNames().join(', ')));
    expectError(() => buildZooFloatGraph('resnet-18'), /unknown zoo model/);
  });

  it('refuses impossible sizes, class counts, seeds and widths', () => {
    expectError(() => buildZooFloatGraph('mcunet-5fps', { input: [16, 128, 3] }), /input 16x128x3 is too small.*32x32/, /128x128x3/);
    expectError(() => buildZooFloatGraph('ds-cnn', { input: [1, 10, 1] }), /too small/);
    expectError(() => buildZooFloatGraph('resnet-8', { input: [32, 32, 0] }), /not a valid size/);
    expectError(() => buildZooFloatGraph('resnet-8', { input: [32.5, 32, 3] }), /not a valid size/);
    expectError(() => buildZooFloatGraph('resnet-8', { input: [8192, 8192, 3] }), /too large/);
    expectError(() => buildZooFloatGraph('resnet-8', { classes: 0 }), /0 classes/);
    expectError(() => buildZooFloatGraph('resnet-8', { seed: -1 }), /seed -1/);
    expectError(() => buildZooFloatGraph('resnet-8', { width: 0.5 }), /fixed architecture/, /mobilenetv2-w0.35/);
    expectError(() => buildZooFloatGraph('mobilenetv2-w0.35', { width: 0 }), /width 0/);
  });

  it('parses input sizes', () => {
    expect(parseInputSize('128x96x1')).toEqual([128, 96, 1]);
    expect(parseInputSize('64X64')).toEqual([64, 64, 3]);
    expectError(() => parseInputSize('128x128x'), /not HxWxC/);
    expectError(() => parseInputSize('-1x4x4'), /not HxWxC/);
  });

  it('is deterministic in the seed, and the seed matters', () => {
    const a = writeTflite(buildZooFloatGraph('resnet-8', { seed: 7 }));
    const b = writeTflite(buildZooFloatGraph('resnet-8', { seed: 7 }));
    const c = writeTflite(buildZooFloatGraph('resnet-8', { seed: 8 }));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
  });

  it('initializes weights Kaiming-normal on the fan-in, biases small', () => {
    const g = buildZooFloatGraph('mcunet-5fps');
    const stats = modelStats(g);
    const big = stats.layers.filter((l) => l.kind === 'CONV_2D' && l.params > 5000);
    for (const layer of big) {
      const op = g.operators[layer.op];
      const w = readFloat32(g.tensors[op.inputs[1]]);
      const [, kh, kw, cin] = g.tensors[op.inputs[1]].shape;
      const activation = (op.options as { activation: string }).activation;
      const want = (activation === 'RELU6' ? Math.SQRT2 : 1) / Math.sqrt(kh * kw * cin);
      const mean = w.reduce((s, v) => s + v, 0) / w.length;
      const std = Math.sqrt(w.reduce((s, v) => s + (v - mean) ** 2, 0) / w.length);
      expect(Math.abs(mean)).toBeLessThan(0.1 * want);
      expect(std / want).toBeGreaterThan(0.9);
      expect(std / want).toBeLessThan(1.1);
      expect(readFloat32(g.tensors[op.inputs[2]]).every((v) => Math.abs(v) <= 0.1)).toBe(true);
    }
    expect(big.length).toBeGreaterThan(10);
  });

  it('names a model built off its defaults after what differs', async () => {
    expect(buildZooFloatGraph('mobilenetv2-w0.35').name).toBe('mobilenetv2-w0.35');
    expect(buildZooFloatGraph('mobilenetv2-w0.35', { width: 0.5, input: [96, 96, 3], classes: 100 }).name).toBe('mobilenetv2-w0.5-96x96x3-c100');
    const q = await buildZooModel('ds-cnn', { int8: true, calibrationSamples: 2 });
    expect(q.name).toBe('ds-cnn-int8');
    expect(q.tensors[q.inputs[0]].dtype).toBe('int8');
  });

  it('width changes the channel counts', () => {
    const narrow = modelStats(buildZooFloatGraph('mobilenetv1-0.25'));
    const wide = modelStats(buildZooFloatGraph('mobilenetv1-0.25', { width: 0.5 }));
    expect(wide.params).toBeGreaterThan(3 * narrow.params);
  });
});

describe('mcutrain zoo', () => {
  const logged = () => {
    const spy = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    return () => spy.mock.calls.map((c) => c.join(' ')).join('\n');
  };

  it('is one command, zoo', () => {
    expect(COMMANDS.zoo).toBe(ZOO_COMMAND);
    expect(ZOO_COMMAND.usage).toMatch(/^zoo list/);
  });

  it('zoo list prints every model with its input and classes', async () => {
    const out = logged();
    expect(await ZOO_COMMAND.run(['list'], {})).toBe(0);
    for (const e of ZOO) expect(out()).toMatch(new RegExp(`${e.name}\\s+${e.input.join('x')}\\s+${e.classes}`));
  });

  it('zoo <name> -o writes an int8 model by default, float32 with --float', async () => {
    const out = logged();
    const int8File = path.join(work, 'kws.tflite');
    expect(await ZOO_COMMAND.run(['ds-cnn'], { out: int8File, classes: '4', seed: '3' })).toBe(0);
    const g = importTfliteFile(int8File);
    expect(g.tensors[g.inputs[0]]).toMatchObject({ dtype: 'int8', shape: [1, 49, 10, 1] });
    expect(g.tensors[g.outputs[0]].shape).toEqual([1, 4]);
    expect(out()).toMatch(/MACs 2,656,256/);
    expect(out()).toMatch(/SRAM arena 16,000 B/);

    const floatFile = path.join(work, 'mbv2.tflite');
    expect(await ZOO_COMMAND.run(['mobilenetv2-w0.35'], { out: floatFile, float: true, input: '64x64x3', width: '0.5' })).toBe(0);
    const f = importTfliteFile(floatFile);
    const classifier = f.operators.find((op) => op.kind === 'FULLY_CONNECTED')!;
    expect(f.tensors[classifier.inputs[1]].shape).toEqual([10, 160]); // 320 x 0.5 (0.35 would give 112)
    expect(f.tensors[f.inputs[0]]).toMatchObject({ dtype: 'float32', shape: [1, 64, 64, 3] });
  });

  it('refuses bad requests clearly and writes nothing', async () => {
    const file = path.join(work, 'bad', 'x.tflite');
    await expectRejection(ZOO_COMMAND.run(['vgg16'], { out: file }), /unknown zoo model 'vgg16'/);
    await expectRejection(ZOO_COMMAND.run(['resnet-8'], {}), /needs an output file/);
    await expectRejection(ZOO_COMMAND.run([], { out: file }), /expected 'list' or one model name/);
    await expectRejection(ZOO_COMMAND.run(['resnet-8'], { out: file, classes: 'ten' }), /--classes must be an integer >= 1, not 'ten'/);
    await expectRejection(ZOO_COMMAND.run(['resnet-8'], { out: file, input: '2x2x3' }), /too small/);
    await expectRejection(ZOO_COMMAND.run(['resnet-8'], { out: file, width: 'wide' }), /--width must be a number/);
    expect(existsSync(path.dirname(file)) ? readdirSync(path.dirname(file)) : []).toEqual([]);
  });
});
