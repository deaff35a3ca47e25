/**
 * Calibration samples for post-training quantization, read from a folder (searched recursively, in
 * name order, so class subfolders work as they are):
 *   .bmp  an image the size of the model input; 8-bit pixels map linearly onto the pixel range
 *         (0 -> range min, 255 -> range max); a grayscale image feeding a 3-channel input is replicated
 *   .npy  float32 values as the model takes them, or uint8 pixels (mapped like an image's); one sample,
 *         or a stack of samples along the first axis
 *   .bin  raw little-endian float32 values of one sample (all inputs, concatenated), or raw uint8
 *         pixels of one sample of a single-input model
 * A file's content decides over its name (a PNG named .bin is still a PNG). Images in other formats
 * (.png, .jpg, ...) are refused by name; other files (a README, .DS_Store) are not samples: they are
 * skipped and counted in a warning. A folder with no samples is an error, one with few gets a warning.
 *
 * The pixel range is the float input range the model was trained on: [0, 1] for Keras models fed
 * image / 255 (the MLPerf Tiny models, and what their int8 versions' input quantization says), [-1, 1]
 * for MobileNet-style preprocessing, [0, 255] for raw pixels.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { McutrainError } from '../errors.ts';
import { elementCount, type Tensor } from '../ir/graph.ts';
import { decodeBmp } from './bmp.ts';
import { parseNpy } from './npy.ts';
import { otherImageByName, SAMPLE_EXTENSIONS, sampleFormat, skippedNote } from './sample_format.ts';

export type PixelRange = readonly [min: number, max: number];
export const DEFAULT_PIXEL_RANGE: PixelRange = [0, 1];

export interface CalibrationReadOptions {
  /** Float values 8-bit pixels map onto. Default [0, 1]. */
  pixelRange?: PixelRange;
  /** Read at most this many samples (files in name order). */
  limit?: number;
  /** Told about skipped files and a small sample count (the CLI prints it on stderr). */
  warn?: (message: string) => void;
}

/**
 * Fewer samples than this get a warning: activation ranges are the extremes seen over the samples,
 * and a handful of inputs rarely reaches the values the model meets in use, so those get clipped.
 */
export const FEW_CALIBRATION_SAMPLES = 50;

/** One calibration sample: a Float32Array per model input. */
export type Sample = Float32Array[];


/** Parses "0,1" / "-1,1" / "0,255" (the CLI's --pixel-range). */
export function parsePixelRange(text: string): PixelRange {
  const parts = text.split(',').map((s) => s.trim());
  const [min, max] = parts.map(Number);
  if (parts.length !== 2 || parts.some((p) => p === '') || !Number.isFinite(min) || !Number.isFinite(max) || !(max > min)) {
    throw new McutrainError(`pixel range '${text}' is not two increasing numbers`, 'write it as MIN,MAX, e.g. 0,1 or -1,1 or 0,255');
  }
  return [min, max];
}

/** Reads every sample file under `folder` for a model whose float inputs are `inputs`. */
export function readCalibrationFolder(folder: string, inputs: readonly Tensor[], options: CalibrationReadOptions = {}): Sample[] {
  let stat;
  try {
    stat = statSync(folder);
  } catch {
    throw new McutrainError(`calibration folder '${folder}' does not exist`, 'pass a folder of sample inputs (.bmp, .npy or .bin files)');
  }
  if (!stat.isDirectory()) throw new McutrainError(`'${folder}' is not a folder`, 'pass a folder of sample inputs (.bmp, .npy or .bin files)');
  checkInputs(inputs);
  const skipped: string[] = [];
  const files = listSampleFiles(folder, '', skipped);
  if (skipped.length > 0) options.warn?.(`skipped ${skippedNote(skipped)} in '${folder}' that ${skipped.length === 1 ? 'is' : 'are'} not ${SAMPLE_EXTENSIONS.join(', ')} samples`);
  if (files.length === 0) {
    throw new McutrainError(`calibration folder '${folder}' holds no samples`, `put representative inputs in it as ${SAMPLE_EXTENSIONS.join(', ')} files (a few hundred is typical)`);
  }
  const samples: Sample[] = [];
  for (const file of files) {
    if (options.limit !== undefined && samples.length >= options.limit) break;
    samples.push(...readSampleFile(file, inputs, options.pixelRange ?? DEFAULT_PIXEL_RANGE));
  }
  const taken = options.limit !== undefined ? samples.slice(0, options.limit) : samples;
  if (taken.length < FEW_CALIBRATION_SAMPLES) {
    options.warn?.(`only ${taken.length} calibration sample${taken.length === 1 ? '' : 's'}: activation ranges are the extremes seen over the samples, ` +
      `and so few rarely reach the values the model meets in use, which are then clipped (use ${FEW_CALIBRATION_SAMPLES} or more; a few hundred is typical)`);
  }
  return taken;
}

/** Sample files under `folder` in name order; files that are not samples go to `skipped`. */
function listSampleFiles(root: string, under: string, skipped: string[]): string[] {
  const out: string[] = [];
  const folder = path.join(root, under);
  const names = readdirSync(folder).filter((n) => !n.startsWith('.')).sort();
  for (const name of names) {
    const file = path.join(folder, name);
    if (statSync(file).isDirectory()) {
      out.push(...listSampleFiles(root, path.join(under, name), skipped));
    } else if (SAMPLE_EXTENSIONS.includes(path.extname(name).toLowerCase()) || otherImageByName(name)) {
      out.push(file); // images we cannot read are refused by name when read
    } else {
      skipped.push(path.join(under, name));
    }
  }
  return out;
}

function checkInputs(inputs: readonly Tensor[]): void {
  if (inputs.length === 0) throw new McutrainError('the model has no inputs to calibrate', 'check the model');
  for (const t of inputs) {
    if (t.dtype !== 'float32') {
      throw new McutrainError(`model input '${t.name}' is ${t.dtype}; calibration samples feed a float32 model`, 'quantize the float32 version of the model');
    }
  }
}

function describe(inputs: readonly Tensor[]): string {
  return inputs.map((t) => `'${t.name}' float32[${t.shape.join(', ')}]`).join(', ');
}

/** The samples in one file (one, or several for a stacked .npy). */
export function readSampleFile(file: string, inputs: readonly Tensor[], pixelRange: PixelRange = DEFAULT_PIXEL_RANGE): Sample[] {
  const bytes = new Uint8Array(readFileSync(file));
  const format = sampleFormat(file, bytes);
  const counts = inputs.map((t) => elementCount(t.shape));
  const total = counts.reduce((a, b) => a + b, 0);
  const single = (why: string) => {
    if (inputs.length !== 1) {
      throw new McutrainError(`${file}: ${why} can feed only a model with one input; this one has ${inputs.length} (${describe(inputs)})`,
        'give each sample as one .bin file of float32 values, all inputs concatenated');
    }
  };
  if (format === 'bmp') {
    single('an image');
    return [imageSample(bytes, file, inputs[0], pixelRange)];
  }
  if (format === 'npy') {
    single('a .npy array');
    const arr = parseNpy(bytes, file);
    const count = elementCount(arr.shape);
    const stacked = arr.shape.length > 0 && arr.shape[0] > 0 && elementCount(arr.shape.slice(1)) === total ? arr.shape[0] : 0;
    if (count !== total && !stacked) {
      throw new McutrainError(`${file} holds an array of shape [${arr.shape.join(', ')}] (${count} values); the model input is ${describe(inputs)} (${total} values)`,
        'save one sample with the input\'s shape, or a stack of them along a new first axis');
    }
    if (arr.dtype !== 'float32' && arr.dtype !== 'uint8') {
      throw new McutrainError(`${file} holds ${arr.dtype} values`, 'save float32 values (preprocessed as the model expects) or uint8 pixels');
    }
    const width = arr.dtype === 'float32' ? 4 : 1;
    if (arr.data.length < count * width) {
      throw new McutrainError(`${file} is truncated: its header promises ${count} ${arr.dtype} values, it holds ${arr.data.length} bytes`, 'save the array again');
    }
    const values = arr.dtype === 'float32' ? new Float32Array(arr.data.slice(0, count * 4).buffer) : mapPixels(arr.data.subarray(0, count), pixelRange);
    const n = count / total;
    return Array.from({ length: n }, (_, i) => [values.slice(i * total, (i + 1) * total)]);
  }
  // raw values
  if (bytes.length === total * 4) {
    const values = new Float32Array(bytes.slice().buffer);
    let at = 0;
    return [counts.map((c) => { const v = values.slice(at, at + c); at += c; return v; })];
  }
  if (bytes.length === total && inputs.length === 1) return [[mapPixels(bytes, pixelRange)]];
  throw new McutrainError(`${file} holds ${bytes.length} bytes; a sample of ${describe(inputs)} is ${total * 4} bytes of float32` +
    (inputs.length === 1 ? ` (or ${total} bytes of uint8 pixels)` : ''), 'write the raw little-endian values of one sample');
}

/** 8-bit pixel -> float input: 0 -> lo, 255 -> hi (divided last, so [0, 1] gives exactly p / 255). */
function mapPixel(p: number, [lo, hi]: PixelRange): number {
  return lo + ((hi - lo) * p) / 255;
}

function mapPixels(pixels: ArrayLike<number>, range: PixelRange): Float32Array {
  return Float32Array.from(pixels, (p) => mapPixel(p, range));
}

function imageSample(bytes: Uint8Array, file: string, input: Tensor, pixelRange: PixelRange): Float32Array[] {
  const img = decodeBmp(bytes, file);
  const shape = input.shape;
  const [h, w, c] = shape.length === 4 && shape[0] === 1 ? shape.slice(1)
    : shape.length === 3 ? shape
      : shape.length === 2 ? [shape[0], shape[1], 1]
        : [];
  if (h === undefined) {
    throw new McutrainError(`${file}: the model input ${describe([input])} is not an image (expected [1, height, width, channels])`, 'give .npy or .bin samples instead');
  }
  if (img.width !== w || img.height !== h) {
    throw new McutrainError(`${file} is ${img.width}x${img.height}; the model input is ${w}x${h}`, 'resize the calibration images to the model\'s input size');
  }
  if (img.channels !== c && !(img.channels === 1 && c === 3)) {
    throw new McutrainError(`${file} is an RGB image; the model input has ${c} channel(s)`, 'convert the images to grayscale');
  }
  const out = new Float32Array(h * w * c);
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < c; k++) out[p * c + k] = mapPixel(img.pixels[p * img.channels + (img.channels === 1 ? 0 : k)], pixelRange);
  }
  return [out];
}
