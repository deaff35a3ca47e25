/**
 * A labelled data set on disk: `folder/<class>/<sample files>`, one sample per file in any format
 * readInputFile reads (.bmp, .npy, raw .bin). Class folders named by integers give those labels
 * (`0/`, `7/`, as MNIST-style exports do); otherwise the sorted folder names are labels 0..k-1.
 * A validation set takes the training set's labels by folder name, so it may hold fewer classes.
 * Hidden entries (a leading dot, e.g. .DS_Store) are skipped silently; other files that are not
 * samples (a README) are skipped with a warning. Layouts that would label samples wrongly are refused.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { McutrainError } from '../errors.ts';
import type { IoTensorInfo } from '../ir/io_tensor.ts';
import { readInputFile, type PixelMapping } from './input_file.ts';
import { otherImageByName, SAMPLE_EXTENSIONS, skippedNote } from './sample_format.ts';

export interface LabelledSet {
  samples: Uint8Array[];
  /** One per sample. */
  labels: number[];
  /** The class folder's name per label (index = label); a label without a folder has its number as name. */
  classNames: string[];
}

export interface LabelledReadOptions {
  pixels: PixelMapping;
  classes: number;
  /** Label the class folders as this (training) set does, by name: for a validation set. */
  labelsOf?: { folder: string; classNames: readonly string[] };
  /** Told about skipped files and empty class folders (the CLI prints it on stderr). */
  warn?: (message: string) => void;
}

const LAYOUT_HINT = 'lay the data out as <folder>/<class>/<files>, one folder per class (named 0, 1, ... or by class name)';

/** The entries of `folder` but hidden ones, a symbolic link taken as what it points to. */
function visible(folder: string): { name: string; isDirectory(): boolean }[] {
  return readdirSync(folder, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.'))
    .map((e) => (e.isSymbolicLink() ? { name: e.name, isDirectory: () => statSync(path.join(folder, e.name), { throwIfNoEntry: false })?.isDirectory() ?? false } : e));
}
const isSampleName = (name: string) => SAMPLE_EXTENSIONS.includes(path.extname(name).toLowerCase()) || otherImageByName(name) !== undefined;

export function readLabelledFolder(folder: string, input: IoTensorInfo, opts: LabelledReadOptions): LabelledSet {
  if (!existsSync(folder)) throw new McutrainError(`data folder '${folder}' does not exist`, 'check the path');
  if (!statSync(folder).isDirectory()) throw new McutrainError(`'${folder}' is not a folder`, LAYOUT_HINT);
  const top = visible(folder);
  const classDirs = top.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  if (classDirs.length === 0) throw new McutrainError(`data folder '${folder}' has no class folders`, LAYOUT_HINT);
  const skipped = top.filter((e) => !e.isDirectory()).map((e) => e.name);

  const labelOf = opts.labelsOf ? labelsByName(folder, classDirs, opts.labelsOf) : labelsOfFolders(folder, classDirs, opts.classes);
  const classNames = opts.labelsOf ? [...opts.labelsOf.classNames] : [];
  for (const [name, label] of labelOf) classNames[label] = name;
  for (let i = 0; i < classNames.length; i++) classNames[i] ??= String(i);

  const filesOf = new Map<string, string[]>();
  for (const name of classDirs) {
    const entries = visible(path.join(folder, name));
    const files = entries.filter((e) => !e.isDirectory() && isSampleName(e.name)).map((e) => e.name).sort();
    const subfolders = entries.filter((e) => e.isDirectory()).map((e) => e.name);
    if (files.length === 0 && subfolders.length > 0) {
      throw new McutrainError(`class folder '${name}' of '${folder}' holds folders (${subfolders.slice(0, 3).join(', ')}), not samples: the data is one level too deep`,
        `pass the folder that holds the class folders, e.g. '${path.join(folder, name)}', or move the samples up into their class folders`);
    }
    skipped.push(...entries.filter((e) => !files.includes(e.name)).map((e) => `${name}/${e.name}${e.isDirectory() ? '/' : ''}`));
    filesOf.set(name, files);
  }
  if (skipped.length > 0) opts.warn?.(`skipped ${skippedNote(skipped)} in '${folder}' that ${skipped.length === 1 ? 'is' : 'are'} not samples (${SAMPLE_EXTENSIONS.join(', ')} files in class folders)`);
  const empty = classDirs.filter((name) => filesOf.get(name)!.length === 0);
  if (empty.length === classDirs.length) throw new McutrainError(`the class folders of '${folder}' hold no files`, LAYOUT_HINT);
  if (empty.length > 0) {
    const counts = classDirs.map((name) => `${name} ${filesOf.get(name)!.length}`).join(', ');
    opts.warn?.(`class folder${empty.length === 1 ? '' : 's'} ${empty.map((n) => `'${n}'`).join(', ')} of '${folder}' ${empty.length === 1 ? 'is' : 'are'} empty, ` +
      `so label${empty.length === 1 ? '' : 's'} ${empty.map((n) => labelOf.get(n)).join(', ')} get${empty.length === 1 ? 's' : ''} no samples (samples per class folder: ${counts})`);
  }

  const samples: Uint8Array[] = [];
  const labels: number[] = [];
  for (const name of classDirs) {
    for (const file of filesOf.get(name)!) {
      samples.push(readSample(path.join(folder, name, file), input, opts.pixels));
      labels.push(labelOf.get(name)!);
    }
  }
  return { samples, labels, classNames };
}

/** A training set's labels: integer folder names are the labels, other names are numbered in sorted order. */
function labelsOfFolders(folder: string, classDirs: string[], classes: number): Map<string, number> {
  const numberedDirs = classDirs.filter((name) => /^\d+$/.test(name));
  if (numberedDirs.length > 0 && numberedDirs.length < classDirs.length) {
    const named = classDirs.filter((name) => !numberedDirs.includes(name));
    throw new McutrainError(`the class folders of '${folder}' mix numbers (${numberedDirs.slice(0, 3).join(', ')}) and names (${named.slice(0, 3).join(', ')}): ` +
      'numbers are labels and names are numbered in sorted order, so the two would collide', 'name every class folder by its label (0, 1, ...) or every one by its class name');
  }
  const numbered = numberedDirs.length > 0;
  const labelOf = new Map(classDirs.map((name, i) => [name, numbered ? Number(name) : i]));
  const seen: string[] = [];
  for (const [name, label] of labelOf) {
    if (label >= classes) {
      const how = numbered ? `class folder '${name}' is label ${label}` : `${classDirs.length} class folders (labels 0 to ${classDirs.length - 1}) are given`;
      throw new McutrainError(`${how}, but the model has ${classes} classes (labels 0 to ${classes - 1}) in '${folder}'`,
        numbered ? 'class folders must be named 0 to classes - 1' : 'remove the extra class folders, or train a model with more classes');
    }
    if (seen[label] !== undefined) {
      throw new McutrainError(`class folders '${seen[label]}' and '${name}' in '${folder}' are both label ${label}`, 'rename one of them');
    }
    seen[label] = name;
  }
  return labelOf;
}

/** A validation set's labels: each class folder is the training set's class of the same name. */
function labelsByName(folder: string, classDirs: string[], train: { folder: string; classNames: readonly string[] }): Map<string, number> {
  const unknown = classDirs.filter((name) => !train.classNames.includes(name));
  if (unknown.length > 0) {
    throw new McutrainError(`class folder${unknown.length === 1 ? '' : 's'} ${unknown.slice(0, 3).map((n) => `'${n}'`).join(', ')} of '${folder}' ` +
      `${unknown.length === 1 ? 'is not a class' : 'are not classes'} of the training data '${train.folder}' (${train.classNames.slice(0, 10).join(', ')}${train.classNames.length > 10 ? ', ...' : ''})`,
      'name the validation class folders as the training ones, so each sample gets the same label');
  }
  return new Map(classDirs.map((name) => [name, train.classNames.indexOf(name)]));
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
