/** Reading uncompressed BMP images (8-bit palette/grayscale, 24-bit and 32-bit), as test images come. */
import { McutrainError } from '../errors.ts';

export interface Image {
  width: number;
  height: number;
  channels: 1 | 3;
  /** Row-major, top row first, channels interleaved (RGB). */
  pixels: Uint8Array;
}

export function decodeBmp(bytes: Uint8Array, name = 'image'): Image {
  const bad = (why: string) => new McutrainError(`${name} is not a BMP file we can read: ${why}`, 'use an uncompressed 8-, 24- or 32-bit BMP');
  if (bytes.length < 54 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) throw bad('missing the BM header');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = v.getUint32(10, true);
  const headerSize = v.getUint32(14, true);
  const width = v.getInt32(18, true);
  const rawHeight = v.getInt32(22, true);
  const bpp = v.getUint16(28, true);
  const compression = v.getUint32(30, true);
  if (headerSize < 40) throw bad(`header of ${headerSize} bytes (an OS/2 bitmap)`);
  if (compression !== 0 && !(compression === 3 && bpp === 32)) throw bad(`compression ${compression}`);
  if (width <= 0 || rawHeight === 0 || width > 16384 || Math.abs(rawHeight) > 16384) throw bad(`size ${width}x${rawHeight}`);
  if (![8, 24, 32].includes(bpp)) throw bad(`${bpp} bits per pixel`);
  // Rows are stored bottom-up unless the height is negative; each row is padded to 4 bytes.
  const height = Math.abs(rawHeight);
  const bottomUp = rawHeight > 0;
  const rowBytes = Math.ceil((width * bpp) / 32) * 4;
  if (dataOffset + rowBytes * height > bytes.length) throw bad('the file is truncated');

  let gray = bpp === 8;
  const palette: number[][] = [];
  if (bpp === 8) {
    const entries = v.getUint32(46, true) || 256;
    const paletteStart = 14 + headerSize;
    if (paletteStart + entries * 4 > dataOffset) throw bad('the palette overlaps the pixels');
    for (let i = 0; i < entries; i++) {
      const o = paletteStart + i * 4;
      palette.push([bytes[o + 2], bytes[o + 1], bytes[o]]);
    }
    gray = palette.every(([r, g, b]) => r === g && g === b);
  }
  const channels: 1 | 3 = gray ? 1 : 3;
  const pixels = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (bottomUp ? height - 1 - y : y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const out = (y * width + x) * channels;
      if (bpp === 8) {
        const entry = palette[bytes[row + x]] ?? [0, 0, 0];
        if (gray) pixels[out] = entry[0];
        else pixels.set(entry, out);
      } else {
        const p = row + x * (bpp / 8);
        pixels[out] = bytes[p + 2];
        pixels[out + 1] = bytes[p + 1];
        pixels[out + 2] = bytes[p];
      }
    }
  }
  return { width, height, channels, pixels };
}

/** An 8-bit grayscale BMP (bottom-up rows, a gray palette), as decodeBmp reads it back. */
export function encodeGrayBmp(width: number, height: number, pixels: Uint8Array): Uint8Array {
  if (pixels.length !== width * height) throw new McutrainError(`a ${width}x${height} grayscale image takes ${width * height} pixels, not ${pixels.length}`);
  const rowBytes = Math.ceil(width / 4) * 4;
  const dataOffset = 14 + 40 + 256 * 4;
  const out = new Uint8Array(dataOffset + rowBytes * height);
  const v = new DataView(out.buffer);
  out.set([0x42, 0x4d]);
  v.setUint32(2, out.length, true);
  v.setUint32(10, dataOffset, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, width, true);
  v.setInt32(22, height, true);
  v.setUint16(26, 1, true); // planes
  v.setUint16(28, 8, true);
  v.setUint32(34, rowBytes * height, true);
  v.setUint32(46, 256, true);
  for (let i = 0; i < 256; i++) out.set([i, i, i, 0], 54 + i * 4);
  for (let y = 0; y < height; y++) out.set(pixels.subarray(y * width, (y + 1) * width), dataOffset + (height - 1 - y) * rowBytes);
  return out;
}
