/** Reading calibration samples from a folder (src/data/calibration.ts). */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePixelRange, readCalibrationFolder } from '../../src/data/calibration.ts';
import { encodeNpy } from '../../src/data/npy.ts';
import { McutrainError } from '../../src/errors.ts';
import type { Tensor } from '../../src/ir/graph.ts';
import { bytesOf } from '../../src/ir/tensor_data.ts';
import { tempDir } from '../helpers/paths.ts';
import { encodeBmp } from './helpers.ts';

const image = (shape: number[]): Tensor => ({ id: 0, name: 'input_1', dtype: 'float32', shape });

function folder(files: Record<string, Uint8Array | string>): string {
  const dir = tempDir('calibration');
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  return dir;
}

function errorOf(f: () => unknown): McutrainError {
  try {
    f();
  } catch (e) {
    if (e instanceof McutrainError) return e;
    throw e;
  }
  throw new Error('expected a McutrainError');
}

describe('readCalibrationFolder', () => {
  it('maps 8-bit pixels onto the pixel range and replicates grayscale to 3 channels', () => {
    const gray = Uint8Array.from({ length: 6 }, (_, i) => [0, 51, 102, 153, 204, 255][i]);
    const dir = folder({ 'a.bmp': encodeBmp(3, 2, 1, gray) });
    const [[x]] = readCalibrationFolder(dir, [image([1, 2, 3, 3])]);
    expect(Array.from(x.subarray(0, 6))).toEqual([0, 0, 0, 0.2, 0.2, 0.2].map(Math.fround));
    expect(x[15]).toBe(1);
    const [[y]] = readCalibrationFolder(dir, [image([1, 2, 3, 3])], { pixelRange: [-1, 1] });
    expect(y[0]).toBe(-1);
    expect(y[15]).toBe(1);
    expect(y[3]).toBeCloseTo(-0.6, 6);
  });

  it('reads RGB images, .npy (one sample or a stack), float32 and uint8 .bin, in name order, through subfolders', () => {
    const rgb = Uint8Array.from({ length: 2 * 2 * 3 }, (_, i) => i * 20);
    const floats = Float32Array.from({ length: 12 }, (_, i) => i / 10);
    const stack = Float32Array.from({ length: 24 }, (_, i) => -i);
    const dir = folder({
      'b/1.bmp': encodeBmp(2, 2, 3, rgb),
      'a.npy': encodeNpy('float32', [1, 2, 2, 3], bytesOf(floats)),
      'c.npy': encodeNpy('float32', [2, 2, 2, 3], bytesOf(stack)),
      'd.bin': bytesOf(floats),
      'e.bin': Uint8Array.from({ length: 12 }, () => 255),
      '.DS_Store': 'junk',
    });
    const samples = readCalibrationFolder(dir, [image([1, 2, 2, 3])]);
    expect(samples).toHaveLength(6);
    expect(Array.from(samples[0][0])).toEqual(Array.from(floats)); // a.npy
    expect(samples[1][0][11]).toBeCloseTo(220 / 255, 6); // b/1.bmp, RGB order kept
    expect(samples[2][0][0]).toBe(-0); // c.npy, first of the stack
    expect(samples[3][0][0]).toBe(-12); // c.npy, second
    expect(Array.from(samples[4][0])).toEqual(Array.from(floats)); // d.bin
    expect(Array.from(samples[5][0])).toEqual(new Array(12).fill(1)); // e.bin, uint8 pixels
    expect(readCalibrationFolder(dir, [image([1, 2, 2, 3])], { limit: 3 })).toHaveLength(3);
  });

  it('splits a float32 .bin across several inputs', () => {
    const dir = folder({ 's.bin': bytesOf(Float32Array.from([1, 2, 3, 4, 5])) });
    const [[a, b]] = readCalibrationFolder(dir, [image([1, 2]), { ...image([3]), id: 1, name: 'other' }]);
    expect(Array.from(a)).toEqual([1, 2]);
    expect(Array.from(b)).toEqual([3, 4, 5]);
  });

  it('fails clearly on an empty folder, naming it', () => {
    const dir = folder({ '.hidden': 'x' });
    const e = errorOf(() => readCalibrationFolder(dir, [image([1, 2, 2, 3])]));
    expect(e.message).toBe(`calibration folder '${dir}' holds no samples`);
    expect(e.hint).toMatch(/\.bmp, \.npy, \.bin/);
    expect(() => readCalibrationFolder(path.join(dir, 'nope'), [image([1, 2])])).toThrow(/does not exist/);
  });

  it('fails on an image it cannot decode, naming the file', () => {
    const dir = folder({ 'a.bin': new Uint8Array(4), 'photo.png': new Uint8Array(8) });
    const e = errorOf(() => readCalibrationFolder(dir, [image([1, 2, 2, 1])]));
    expect(e.message).toContain(`${path.join(dir, 'photo.png')} is a PNG image; mcutrain reads images only as uncompressed BMP`);
    expect(e.hint).toMatch(/convert it to an 8- or 24-bit \.bmp/);
  });

  it('fails on samples of the wrong size, naming the file and both sizes', () => {
    const dir1 = folder({ 'small.bmp': encodeBmp(4, 4, 1, new Uint8Array(16)) });
    expect(() => readCalibrationFolder(dir1, [image([1, 96, 96, 3])])).toThrow(/small\.bmp is 4x4; the model input is 96x96/);
    const dir2 = folder({ 'x.bin': new Uint8Array(10) });
    expect(() => readCalibrationFolder(dir2, [image([1, 2, 2, 1])])).toThrow(/x\.bin holds 10 bytes; .* is 16 bytes of float32 \(or 4 bytes of uint8 pixels\)/);
    const dir3 = folder({ 'y.npy': encodeNpy('float32', [5], bytesOf(new Float32Array(5))) });
    expect(() => readCalibrationFolder(dir3, [image([1, 2, 2, 1])])).toThrow(/y\.npy holds an array of shape \[5\] \(5 values\)/);
    const dir4 = folder({ 'z.npy': encodeNpy('int32', [4], bytesOf(new Int32Array(4))) });
    expect(() => readCalibrationFolder(dir4, [image([1, 2, 2, 1])])).toThrow(/z\.npy holds int32 values/);
    const dir5 = folder({ 'c.bmp': encodeBmp(2, 2, 3, new Uint8Array(12)) });
    expect(() => readCalibrationFolder(dir5, [image([1, 2, 2, 1])])).toThrow(/c\.bmp is an RGB image; the model input has 1 channel/);
  });

  it('refuses a model that is not float', () => {
    const dir = folder({ 'a.bin': new Uint8Array(4) });
    expect(() => readCalibrationFolder(dir, [{ ...image([1, 4]), dtype: 'int8' }])).toThrow(/is int8; calibration samples feed a float32 model/);
  });
});

describe('parsePixelRange', () => {
  it('reads MIN,MAX', () => {
    expect(parsePixelRange('0,1')).toEqual([0, 1]);
    expect(parsePixelRange('-1, 1')).toEqual([-1, 1]);
    expect(parsePixelRange('0,255')).toEqual([0, 255]);
  });

  it.each(['1', '1,0', 'a,b', '0,1,2', ',1'])('rejects %j', (text) => {
    expect(() => parsePixelRange(text)).toThrow(McutrainError);
  });
});
