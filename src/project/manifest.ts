/** mcutrain.json: what a generated project was built from and with, so a build can be reproduced and checked. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { McutrainError } from '../errors.ts';
import type { IoTensorInfo } from '../ir/io_tensor.ts';
import type { TrainParamInfo } from '../train/analyze_training.ts';
import { recoverInterruptedReplace } from '../util/fs_atomic.ts';

export type { IoTensorInfo, TrainParamInfo };

export const MANIFEST_FILE = 'mcutrain.json';
/** A copy of the compiled .tflite inside the project (the `weights` command writes learned weights into it). */
export const PROJECT_MODEL_FILE = 'model.tflite';

export interface TrainingInfo {
  /** The scheme in its inline form, e.g. "bias:last=8,weights:layers=21,24@0.25,qas=on". */
  scheme: string;
  qas: boolean;
  /** Storage of the gradients (`--grad`): f32, i16 or i8; absent in manifests written before narrow gradients (f32). */
  grad?: string;
  /** Training arithmetic (`--arith`): float or int; absent in manifests written before the integer engine (float). */
  arith?: string;
  classes: number;
  /** The tensor the loss reads (the logits), before any SOFTMAX. */
  logits: string;
  lr: number;
  momentum: number;
  /** Bytes of one sample as the device takes it (the model's single input). */
  inputBytes: number;
  params: TrainParamInfo[];
  paramBytes: number;
  momentumBytes: number;
  /** Peak of the training schedule's arena and its lower bound (the whole arena is the max of this and inference). */
  trainArenaBytes: number;
  trainLowerBoundBytes: number;
  macsForward: number;
  macsBackward: number;
}

export interface ProjectManifest {
  mcutrain: string;
  model: { file: string; sha256: string };
  target: string;
  /** Whose int8 arithmetic the engine reproduces: 'tflm' or 'tflite' (src/lower/numerics.ts). */
  numerics: string;
  buildId: string;
  arenaBytes: number;
  lowerBoundBytes: number;
  constBytes: number;
  macs: number;
  inputs: IoTensorInfo[];
  outputs: IoTensorInfo[];
  ops: { index: number; kind: string; macs: number }[];
  /** Present when compiled with --train. */
  training?: TrainingInfo;
  /** Present when the early stage runs patch by patch: its operators, the grid (grid x grid patches), MACs recomputed in halos. */
  patches?: { ops: number[]; grid: number; extraMacs: number };
  /**
   * Written by `mcutrain build`: the SHA-256 (hex) of each image it made, by file name (`firmware.elf`,
   * `engine`, `engine-sanitized`). flash and the device commands refuse an image that differs.
   */
  images?: Record<string, string>;
}

export function isProjectDir(dir: string): boolean {
  return existsSync(path.join(dir, MANIFEST_FILE));
}

/**
 * The project's manifest, checked field by field: a manifest from another version, edited by hand or
 * cut short is refused by the field at fault, not met later as a TypeError. Unknown fields are allowed.
 * A project left missing by a compile killed mid-swap is restored first (see recoverInterruptedReplace).
 */
export function readManifest(dir: string): ProjectManifest {
  const file = path.join(dir, MANIFEST_FILE);
  if (!existsSync(file)) recoverInterruptedReplace(path.resolve(dir));
  if (!existsSync(file)) {
    throw new McutrainError(`'${dir}' is not an mcutrain project (no ${MANIFEST_FILE})`, 'create one with: mcutrain compile model.tflite -o <dir>');
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new McutrainError(`${file} is not valid JSON (${(e as Error).message})`, RECOMPILE);
  }
  const problem = MANIFEST_SHAPE(json, '');
  if (problem) throw new McutrainError(`${file} is not a manifest this mcutrain can use: ${problem}`, RECOMPILE);
  return json as ProjectManifest;
}

const RECOMPILE = 'recompile the project with mcutrain compile (same model and options, -o to this folder)';

/** Says what is wrong with `value` at `at` (a field path), or undefined when it fits. */
type Shape = (value: unknown, at: string) => string | undefined;

const kindOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);
const primitive = (type: 'number' | 'string' | 'boolean'): Shape => (v, at) =>
  typeof v === type && (type !== 'number' || Number.isFinite(v)) ? undefined : `field '${at}' should be a ${type}, not ${kindOf(v)}`;
const num = primitive('number');
const str = primitive('string');
const bool = primitive('boolean');
const list = (item: Shape): Shape => (v, at) =>
  Array.isArray(v) ? v.map((x, i) => item(x, `${at}[${i}]`)).find(Boolean) : `field '${at}' should be an array, not ${kindOf(v)}`;
const optional = (shape: Shape): Shape => (v, at) => (v === undefined ? undefined : shape(v, at));
const stringMap: Shape = (v, at) =>
  typeof v !== 'object' || v === null || Array.isArray(v) ? `field '${at}' should be an object, not ${kindOf(v)}`
    : Object.entries(v).map(([k, x]) => str(x, `${at}.${k}`)).find(Boolean);
function record(fields: Record<string, Shape>): Shape {
  return (v, at) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return at ? `field '${at}' should be an object, not ${kindOf(v)}` : `it holds ${kindOf(v)}, not an object`;
    for (const [key, shape] of Object.entries(fields)) {
      const field = at ? `${at}.${key}` : key;
      const value = (v as Record<string, unknown>)[key];
      if (value === undefined && shape(undefined, field) !== undefined) return `field '${field}' is missing`;
      const problem = shape(value, field);
      if (problem) return problem;
    }
    return undefined;
  };
}

const IO_TENSOR = record({ name: str, dtype: str, shape: list(num), bytes: num, scale: num, zeroPoint: num });
const TRAIN_PARAM = record({
  name: str, tensor: num, kind: str, dtype: str, bytes: num, offset: num, channels: num, totalChannels: num,
  momentumFloats: num, momentumOffset: num, layer: num, op: num, slice: optional(record({ rows: num, cols: num, rowSize: num })),
});
const MANIFEST_SHAPE: Shape = record({
  mcutrain: str, model: record({ file: str, sha256: str }), target: str, numerics: str, buildId: str,
  arenaBytes: num, lowerBoundBytes: num, constBytes: num, macs: num,
  inputs: list(IO_TENSOR), outputs: list(IO_TENSOR), ops: list(record({ index: num, kind: str, macs: num })),
  training: optional(record({
    scheme: str, qas: bool, grad: optional(str), arith: optional(str), classes: num, logits: str, lr: num, momentum: num, inputBytes: num, params: list(TRAIN_PARAM),
    paramBytes: num, momentumBytes: num, trainArenaBytes: num, trainLowerBoundBytes: num, macsForward: num, macsBackward: num,
  })),
  patches: optional(record({ ops: list(num), grid: num, extraMacs: num })),
  images: optional(stringMap),
});
