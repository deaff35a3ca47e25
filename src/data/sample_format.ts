/**
 * What a sample file holds, told by its content first and its name second: a PNG renamed .bin must
 * not be fed to the model as raw bytes just because its size happens to match the input tensor.
 */
import path from 'node:path';
import { McutrainError } from '../errors.ts';

export type SampleFormat = 'bmp' | 'npy' | 'raw';

/** Extensions a data or calibration folder's samples carry; other files there are not samples. */
export const SAMPLE_EXTENSIONS = ['.bmp', '.npy', '.bin'];

/** Image formats we recognise but do not decode, by extension. */
const OTHER_IMAGE_EXTENSIONS: Record<string, string> = {
  '.png': 'PNG', '.jpg': 'JPEG', '.jpeg': 'JPEG', '.gif': 'GIF', '.webp': 'WebP', '.tif': 'TIFF', '.tiff': 'TIFF', '.pgm': 'PGM', '.ppm': 'PPM',
};

const startsWith = (bytes: Uint8Array, magic: readonly number[], at = 0) => bytes.length >= at + magic.length && magic.every((b, i) => bytes[at + i] === b);
const ascii = (text: string) => Array.from(text, (c) => c.charCodeAt(0));

/** The image format `bytes` holds other than BMP, by its signature; undefined when none matches. */
function otherImageByContent(bytes: Uint8Array): string | undefined {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'PNG';
  // SOI and a marker at the start, EOI at the end: three bytes alone could open raw pixel data.
  if (startsWith(bytes, [0xff, 0xd8, 0xff]) && bytes[bytes.length - 2] === 0xff && bytes[bytes.length - 1] === 0xd9) return 'JPEG';
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'GIF';
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'WebP';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'TIFF';
  return undefined;
}

/** A BMP by content: the BM signature and the file size it records (raw bytes could start with "BM"). */
function isBmpContent(bytes: Uint8Array): boolean {
  if (!startsWith(bytes, ascii('BM')) || bytes.length < 54) return false;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(2, true) === bytes.length;
}

const isNpyContent = (bytes: Uint8Array) => startsWith(bytes, [0x93, ...ascii('NUMPY')]);

/** The image format a file name says it holds, if it is one we do not decode. */
export function otherImageByName(file: string): string | undefined {
  return OTHER_IMAGE_EXTENSIONS[path.extname(file).toLowerCase()];
}

function unsupportedImage(file: string, format: string): McutrainError {
  return new McutrainError(`${file} is a ${format} image; mcutrain reads images only as uncompressed BMP`,
    'convert it to an 8- or 24-bit .bmp (e.g. ImageMagick: convert in.png -type truecolor BMP3:out.bmp), or save the pixels as .npy');
}

/**
 * How to read `bytes` from `file`: a BMP or .npy signature wins over the name, a name ending .bmp or
 * .npy is parsed as such (and the parser says what is wrong), anything else is raw values.
 * Images in other formats are refused whatever they are named.
 */
export function sampleFormat(file: string, bytes: Uint8Array): SampleFormat {
  const image = otherImageByContent(bytes) ?? otherImageByName(file);
  if (image) throw unsupportedImage(file, image);
  if (isNpyContent(bytes)) return 'npy';
  if (isBmpContent(bytes)) return 'bmp';
  const ext = path.extname(file).toLowerCase();
  return ext === '.bmp' ? 'bmp' : ext === '.npy' ? 'npy' : 'raw';
}

/** "3 files (README.md, cat/notes.txt, ...)": what a folder held besides samples, for a warning. */
export function skippedNote(names: readonly string[]): string {
  const shown = names.slice(0, 3).join(', ');
  return `${names.length} file${names.length === 1 ? '' : 's'} (${shown}${names.length > 3 ? ', ...' : ''})`;
}
