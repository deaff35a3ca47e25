/**
 * A labelled data set on disk: `folder/<class>/<sample files>`, one sample per file in any format
 * readInputFile reads (.bmp, .npy, raw bytes). Class folders named by integers give those labels
 * (`0/`, `7/`, as MNIST-style exports do); otherwise the sorted folder names are labels 0..k-1.
 * Hidden entries (a leading dot, e.g. .DS_Store) are skipped.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { McutrainError } from '../errors.ts';
import type { IoTensorInfo } from '../project/manifest.ts';
import { readInputFile, type PixelMapping } from './input_file.ts';

export interface LabelledSet {
  samples: Uint8Array[];
  /** One per sample. */
  labels: number[];
  /** The class folder's name per label (index = label); a label without a folder has its number as name. */
  classNames: string[];
}

const LAYOUT_HINT = 'lay the data out as <folder>/<class>/<files>, one folder per class (named 0, 1, ... or by class name)';

export function readLabelledFolder(folder: string, input: IoTensorInfo, opts: { pixels: PixelMapping; classes: number }): LabelledSet {
  if (!existsSync(folder)) throw new McutrainError(`data folder '${folder}' does not exist`, 'check the path');
  if (!statSync(folder).isDirectory()) throw new McutrainError(`'${folder}' is not a folder`, LAYOUT_HINT);
  const classDirs = readdirSync(folder, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  if (classDirs.length === 0) throw new McutrainError(`data folder '${folder}' has no class folders`, LAYOUT_HINT);

  const numbered = classDirs.every((name) => /^\d+$/.test(name));
  const labelOf = new Map(classDirs.map((name, i) => [name, numbered ? Number(name) : i]));
  const classNames: string[] = [];
  for (const [name, label] of labelOf) {
    if (label >= opts.classes) {
      const how = numbered ? `class folder '${name}' is label ${label}` : `${classDirs.length} class folders (labels 0 to ${classDirs.length - 1}) are given`;
      throw new McutrainError(`${how}, but the model has ${opts.classes} classes (labels 0 to ${opts.classes - 1}) in '${folder}'`,
        numbered ? 'class folders must be named 0 to classes - 1' : 'remove the extra class folders, or train a model with more classes');
    }
    if (classNames[label] !== undefined) {
      throw new McutrainError(`class folders '${classNames[label]}' and '${name}' in '${folder}' are both label ${label}`, 'rename one of them');
    }
    classNames[label] = name;
  }
  for (let i = 0; i < classNames.length; i++) classNames[i] ??= String(i);

  const samples: Uint8Array[] = [];
  const labels: number[] = [];
  for (const name of classDirs) {
    const dir = path.join(folder, name);
    const files = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
    for (const file of files) {
      samples.push(readSample(path.join(dir, file), input, opts.pixels));
      labels.push(labelOf.get(name)!);
    }
  }
  if (samples.length === 0) throw new McutrainError(`the class folders of '${folder}' hold no files`, LAYOUT_HINT);
  return { samples, labels, classNames };
}

/** One sample; an error always names the file. */
function readSample(file: string, input: IoTensorInfo, pixels: PixelMapping): Uint8Array {
  try {
    return readInputFile(file, [input], pixels);
  } catch (e) {
    const message = (e as Error).message;
    if (e instanceof McutrainError && message.includes(file)) throw e;
    throw new McutrainError(`cannot read sample ${file}: ${message}`, e instanceof McutrainError ? e.hint : 'check that the file is readable');
  }
}
