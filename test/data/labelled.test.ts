import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLabelledFolder } from '../../src/data/labelled.ts';
import { encodeNpy } from '../../src/data/npy.ts';
import type { IoTensorInfo } from '../../src/project/manifest.ts';
import { tempDir } from '../helpers/paths.ts';
import { errorOf, tree } from './helpers.ts';

const INPUT: IoTensorInfo = { name: 'image', dtype: 'int8', shape: [1, 2, 2, 1], bytes: 4, scale: 0.5, zeroPoint: 0 };
const OPTS = { pixels: 'shift' as const, classes: 3 };

const npy = (...values: number[]) => encodeNpy('int8', [1, 2, 2, 1], new Uint8Array(Int8Array.from(values).buffer));

describe('readLabelledFolder', () => {
  it('takes integer folder names as labels, reading .npy and raw files in sorted order', () => {
    const root = tree({
      '2/b.npy': npy(1, 2, 3, 4), '2/a.bin': Uint8Array.of(9, 9, 9, 9), '0/x.npy': npy(-1, -2, -3, -4), '0/.DS_Store': Uint8Array.of(1),
    });
    const set = readLabelledFolder(root, INPUT, OPTS);
    expect(set.labels).toEqual([0, 2, 2]);
    expect(set.samples.map((s) => Array.from(new Int8Array(s.buffer, s.byteOffset, s.length)))).toEqual([[-1, -2, -3, -4], [9, 9, 9, 9], [1, 2, 3, 4]]);
    expect(set.classNames).toEqual(['0', '1', '2']);
  });

  it('numbers named class folders in sorted order', () => {
    const root = tree({ 'dog/1.npy': npy(1, 1, 1, 1), 'cat/1.npy': npy(2, 2, 2, 2), 'cat/2.npy': npy(3, 3, 3, 3) });
    const set = readLabelledFolder(root, INPUT, OPTS);
    expect(set.classNames).toEqual(['cat', 'dog']);
    expect(set.labels).toEqual([0, 0, 1]);
  });

  it('says what is wrong with the folder', () => {
    const missing = path.join(tempDir('labelled'), 'nope');
    expect(errorOf(() => readLabelledFolder(missing, INPUT, OPTS)).message).toMatch(/data folder '.*nope' does not exist/);
    const flat = tree({ 'a.npy': npy(1, 2, 3, 4) });
    const e = errorOf(() => readLabelledFolder(flat, INPUT, OPTS));
    expect(e.message).toMatch(/has no class folders/);
    expect(e.hint).toMatch(/<folder>\/<class>\/<files>/);
    expect(errorOf(() => readLabelledFolder(tree({ '3/a.npy': npy(1, 2, 3, 4) }), INPUT, OPTS)).message)
      .toMatch(/class folder '3' is label 3, but the model has 3 classes \(labels 0 to 2\)/);
    expect(errorOf(() => readLabelledFolder(tree({ 'a/x.npy': npy(0, 0, 0, 0), 'b/x.npy': npy(0, 0, 0, 0), 'c/x.npy': npy(0, 0, 0, 0), 'd/x.npy': npy(0, 0, 0, 0) }), INPUT, OPTS)).message)
      .toMatch(/4 class folders \(labels 0 to 3\) are given, but the model has 3 classes/);
    expect(errorOf(() => readLabelledFolder(tree({ '1/x.npy': npy(0, 0, 0, 0), '01/x.npy': npy(0, 0, 0, 0) }), INPUT, OPTS)).message)
      .toMatch(/class folders '01' and '1' .* are both label 1/);
    mkdirSync(path.join(flat, 'empty'));
    expect(errorOf(() => readLabelledFolder(flat, INPUT, OPTS)).message).toMatch(/hold no files/);
  });

  it('names a file it cannot read', () => {
    const root = tree({ '0/good.npy': npy(1, 2, 3, 4), '1/short.bin': Uint8Array.of(1, 2), '1/zz.npy': Uint8Array.of(1) });
    expect(errorOf(() => readLabelledFolder(root, INPUT, OPTS)).message).toMatch(/short\.bin holds 2 bytes; the model expects 4/);
    const broken = tree({ '0/bad.npy': new TextEncoder().encode('not numpy at all') });
    expect(errorOf(() => readLabelledFolder(broken, INPUT, OPTS)).message).toMatch(/bad\.npy/);
    const wrongType = tree({ '0/f.npy': encodeNpy('float32', [1], new Uint8Array(4)) });
    expect(errorOf(() => readLabelledFolder(wrongType, INPUT, OPTS)).message).toMatch(/f\.npy holds float32 values; the model input is int8/);
  });
});
