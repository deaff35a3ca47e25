/**
 * Reading a model input from a file: raw bytes (.bin), NumPy arrays (.npy) or images (.bmp).
 * 8-bit pixels go to a uint8 input as they are. For an int8 input there are two conventions:
 * `shift` (pixel - 128, the usual uint8 -> int8 mapping, as TFLite Micro's camera examples do) and
 * `bytes` (the pixel bytes reinterpreted as int8, which is what TFLite Micro's person-detection test
 * data holds: its generate_cc_arrays script writes the image's bytes into an int8 array).
 * A grayscale image fed to a 3-channel input is replicated per channel.
 */
import { readFileSync, statSync } from 'node:fs';
import { McutrainError } from '../errors.ts';
import type { IoTensorInfo } from '../ir/io_tensor.ts';
import { decodeBmp } from './bmp.ts';
import { parseNpy } from './npy.ts';
import { sampleFormat } from './sample_format.ts';

export type PixelMapping = 'shift' | 'bytes';

export function readInputFile(file: string, inputs: IoTensorInfo[], pixels: PixelMapping = 'shift'): Uint8Array {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat) throw new McutrainError(`input file '${file}' does not exist`, 'check the path');
  if (stat.isDirectory()) throw new McutrainError(`'${file}' is a folder; one inference takes one input file`, 'pass one .bin, .npy or .bmp file');
  const bytes = new Uint8Array(readFileSync(file));
  const total = inputs.reduce((s, t) => s + t.bytes, 0);
  const format = sampleFormat(file, bytes);
  const describe = inputs.map((t) => `${t.name} ${t.dtype}[${t.shape.join(',')}]`).join(', ');
  if (format === 'bmp') {
    if (inputs.length !== 1) throw new McutrainError(`an image can feed only a model with one input; this one has ${inputs.length}`, 'pass the inputs as one .bin file');
    return imageToInput(bytes, file, inputs[0], pixels);
  }
  if (format === 'npy') {
    const arr = parseNpy(bytes, file);
    if (arr.data.byteLength !== total) {
      throw new McutrainError(`${file} holds ${arr.data.byteLength} bytes (${arr.dtype}[${arr.shape.join(',')}]); the model expects ${total} (${describe})`, 'save the array with the input tensor\'s type and shape');
    }
    if (inputs.length === 1 && arr.dtype !== inputs[0].dtype) {
      throw new McutrainError(`${file} holds ${arr.dtype} values; the model input is ${inputs[0].dtype}`, `convert the array to ${inputs[0].dtype} first`);
    }
    return arr.data;
  }
  if (bytes.length !== total) {
    throw new McutrainError(`${file} holds ${bytes.length} bytes; the model expects ${total} (${describe})`, 'pass the raw little-endian bytes of every input, concatenated');
  }
  return bytes;
}

function imageToInput(bytes: Uint8Array, file: string, input: IoTensorInfo, pixels: PixelMapping): Uint8Array {
  const img = decodeBmp(bytes, file);
  const [, h, w, c] = input.shape.length === 4 ? input.shape : [1, ...input.shape];
  if (img.width !== w || img.height !== h) {
    throw new McutrainError(`${file} is ${img.width}x${img.height}; the model input '${input.name}' is ${w}x${h}`, 'resize the image to the model\'s input size');
  }
  if (input.dtype !== 'int8' && input.dtype !== 'uint8') {
    throw new McutrainError(`images can feed int8 or uint8 inputs; '${input.name}' is ${input.dtype}`, 'pass a .npy or .bin file instead');
  }
  if (img.channels !== c && !(img.channels === 1 && c === 3)) {
    throw new McutrainError(`${file} has ${img.channels} channel(s); the model input has ${c}`, 'convert the image');
  }
  const out = new Uint8Array(h * w * c);
  const shift = input.dtype === 'int8' && pixels === 'shift' ? 128 : 0;
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < c; k++) {
      const v = img.pixels[p * img.channels + (img.channels === 1 ? 0 : k)];
      out[p * c + k] = (v - shift) & 0xff;
    }
  }
  return out;
}
