/** Sample folders on disk and the McutrainError a read throws, for the data readers' tests. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { McutrainError } from '../../src/errors.ts';
import { tempDir } from '../helpers/paths.ts';

/** A fresh folder holding `files`: { 'cat/a.npy': bytes, ... }. */
export function tree(files: Record<string, Uint8Array | string>, prefix = 'data'): string {
  const root = tempDir(prefix);
  for (const [name, bytes] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), bytes);
  }
  return root;
}

/** The McutrainError `f` throws (fails the test if it throws nothing or something else). */
export function errorOf(f: () => unknown): McutrainError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(McutrainError);
    return e as McutrainError;
  }
  throw new Error('expected an error');
}
