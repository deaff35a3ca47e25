/** Data and calibration folders laid out in ways that used to be accepted silently or abort the run. */
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLabelledFolder, type LabelledReadOptions } from '../../src/data/labelled.ts';
import { readCalibrationFolder } from '../../src/data/calibration.ts';
import { readInputFile } from '../../src/data/input_file.ts';
import { encodeNpy } from '../../src/data/npy.ts';
import type { IoTensorInfo } from '../../src/project/manifest.ts';
import { encodeBmp } from '../quantize/helpers.ts';
import { tempDir } from '../helpers/paths.ts';
import { errorOf, tree } from './helpers.ts';

/** A 4x4 grayscale int8 input: 16 bytes, room for an image signature. */
const INPUT: IoTensorInfo = { name: 'image', dtype: 'int8', shape: [1, 4, 4, 1], bytes: 16, scale: 0.5, zeroPoint: 0 };

const sample = (v: number) => encodeNpy('int8', [1, 4, 4, 1], new Uint8Array(16).fill(v & 0xff));
/** 16 bytes that are a PNG / JPEG by their signature, the size of INPUT as raw bytes. */
const PNG_16 = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52);
const JPEG_16 = Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0xff, 0xd9);

function withWarnings(): LabelledReadOptions & { warnings: string[] } {
  const warnings: string[] = [];
  return { pixels: 'shift', classes: 3, warn: (m) => warnings.push(m), warnings };
}

describe('labelled data folders', () => {
  it('refuses class folders that mix numbers and names', () => {
    const root = tree({ '0/a.npy': sample(1), '1/a.npy': sample(2), 'cat/a.npy': sample(3) });
    const e = errorOf(() => readLabelledFolder(root, INPUT, withWarnings()));
    expect(e.message).toMatch(/mix numbers \(0, 1\) and names \(cat\)/);
    expect(e.hint).toMatch(/every class folder by its label .* or every one by its class name/);
  });

  it('refuses samples one level too deep, naming the folder to pass instead', () => {
    const root = tree({ 'train/0/a.npy': sample(1), 'train/1/a.npy': sample(2) });
    const e = errorOf(() => readLabelledFolder(root, INPUT, withWarnings()));
    expect(e.message).toMatch(/class folder 'train' .* holds folders \(0, 1\), not samples: the data is one level too deep/);
    expect(e.hint).toContain(path.join(root, 'train'));
  });

  it('labels a validation set by the training set\'s class names and refuses names it does not have', () => {
    const train = tree({ 'cat/a.npy': sample(1), 'dog/a.npy': sample(2), 'fox/a.npy': sample(3) });
    const trainSet = readLabelledFolder(train, INPUT, withWarnings());
    expect(trainSet.classNames).toEqual(['cat', 'dog', 'fox']);
    const val = tree({ 'dog/b.npy': sample(4), 'fox/b.npy': sample(5) });
    const labelsOf = { folder: train, classNames: trainSet.classNames };
    expect(readLabelledFolder(val, INPUT, { ...withWarnings(), labelsOf }).labels).toEqual([1, 2]);
    const other = tree({ 'dog/b.npy': sample(4), 'wolf/b.npy': sample(5) });
    const e = errorOf(() => readLabelledFolder(other, INPUT, { ...withWarnings(), labelsOf }));
    expect(e.message).toMatch(/class folder 'wolf' of '.*' is not a class of the training data '.*' \(cat, dog, fox\)/);
    const numbered = tree({ '0/b.npy': sample(4) });
    expect(errorOf(() => readLabelledFolder(numbered, INPUT, { ...withWarnings(), labelsOf })).message).toMatch(/'0' .* is not a class/);
  });

  it('follows symbolic links to class folders', () => {
    const store = tree({ 'cats/a.npy': sample(1) });
    const root = tree({ 'dog/a.npy': sample(2) });
    symlinkSync(path.join(store, 'cats'), path.join(root, 'cat'));
    const opts = withWarnings();
    expect(readLabelledFolder(root, INPUT, opts).classNames).toEqual(['cat', 'dog']);
    expect(opts.warnings).toEqual([]);
  });

  it('warns about an empty class folder with the count per class', () => {
    const opts = withWarnings();
    const root = tree({ 'cat/a.npy': sample(1), 'cat/b.npy': sample(1), 'fox/a.npy': sample(3) });
    mkdirSync(path.join(root, 'dog'));
    expect(readLabelledFolder(root, INPUT, opts).labels).toEqual([0, 0, 2]);
    expect(opts.warnings).toEqual([`class folder 'dog' of '${root}' is empty, so label 1 gets no samples (samples per class folder: cat 2, dog 0, fox 1)`]);
  });

  it('skips files that are not samples and says how many', () => {
    const opts = withWarnings();
    const root = tree({ 'README.md': '# my data\n', '0/a.npy': sample(1), '0/notes.txt': '0123456789abcdef', '1/a.bin': new Uint8Array(16).fill(7) });
    const set = readLabelledFolder(root, INPUT, opts);
    expect(set.labels).toEqual([0, 1]);
    expect(opts.warnings).toHaveLength(1);
    expect(opts.warnings[0]).toMatch(/^skipped 2 files \(README\.md, 0\/notes\.txt\) in '.*' that are not samples/);
  });

  it('refuses images other than BMP, by name or by content, even at the tensor\'s byte size', () => {
    for (const [name, bytes, format] of [['0/a.png', PNG_16, 'PNG'], ['0/a.bin', PNG_16, 'PNG'], ['0/a.jpg', JPEG_16, 'JPEG'], ['0/b.bin', JPEG_16, 'JPEG']] as const) {
      const root = tree({ [name]: bytes });
      const e = errorOf(() => readLabelledFolder(root, INPUT, withWarnings()));
      expect(e.message).toBe(`${path.join(root, name)} is a ${format} image; mcutrain reads images only as uncompressed BMP`);
      expect(e.hint).toMatch(/convert it to an 8- or 24-bit \.bmp/);
    }
  });
});

describe('input files', () => {
  it('refuses a folder as an input file', () => {
    const dir = tempDir('folders');
    expect(errorOf(() => readInputFile(dir, [INPUT])).message).toBe(`'${dir}' is a folder; one inference takes one input file`);
  });

  it('reads a BMP by its content whatever its name, and refuses a PNG named .bin', () => {
    const dir = tree({ 'image.bin': encodeBmp(4, 4, 1, Array.from({ length: 16 }, (_, i) => i * 16)), 'png.bin': PNG_16 });
    expect(Array.from(readInputFile(path.join(dir, 'image.bin'), [{ ...INPUT, dtype: 'uint8' }]))).toEqual(Array.from({ length: 16 }, (_, i) => i * 16));
    expect(errorOf(() => readInputFile(path.join(dir, 'png.bin'), [INPUT])).message).toMatch(/png\.bin is a PNG image/);
  });

  it('still reads raw bytes that happen to start like a BMP or JPEG', () => {
    const raw = Uint8Array.of(0x42, 0x4d, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
    const jpegStart = Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
    const dir = tree({ 'a.bin': raw, 'b.bin': jpegStart });
    expect(readInputFile(path.join(dir, 'a.bin'), [INPUT])).toEqual(raw);
    expect(readInputFile(path.join(dir, 'b.bin'), [INPUT])).toEqual(jpegStart);
  });
});

describe('calibration folders', () => {
  const FLOAT_INPUT = { id: 0, name: 'x', dtype: 'float32' as const, shape: [1, 4] };
  const floats = (v: number) => new Uint8Array(Float32Array.of(v, v, v, v).buffer);

  it('skips a README and warns about it and about too few samples, saying why', () => {
    const dir = tree({ 'README.md': 'calibration data\n', 'a.bin': floats(1), 'b.bin': floats(2) });
    const warnings: string[] = [];
    const samples = readCalibrationFolder(dir, [FLOAT_INPUT], { warn: (m) => warnings.push(m) });
    expect(samples).toHaveLength(2);
    expect(warnings[0]).toMatch(/^skipped 1 file \(README\.md\) in '.*' that is not \.bmp, \.npy, \.bin samples/);
    expect(warnings[1]).toMatch(/^only 2 calibration samples: activation ranges are the extremes seen over the samples, .* clipped \(use 50 or more/);
  });

  it('takes 50 samples without a warning', () => {
    const dir = tree(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`s${String(i).padStart(2, '0')}.bin`, floats(i)])));
    const warnings: string[] = [];
    expect(readCalibrationFolder(dir, [FLOAT_INPUT], { warn: (m) => warnings.push(m) })).toHaveLength(50);
    expect(warnings).toEqual([]);
  });

  it('refuses a PNG named .bin of the sample\'s byte size', () => {
    const png = new Uint8Array(16);
    png.set(PNG_16.subarray(0, 8));
    const dir = tree({ 'a.bin': png });
    expect(errorOf(() => readCalibrationFolder(dir, [FLOAT_INPUT])).message).toMatch(/a\.bin is a PNG image/);
  });
});
