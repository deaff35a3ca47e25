/**
 * The demo's labelled folders of MNIST digits 5-9, as a user's data would come: 28x28 grayscale BMPs in
 * one folder per class, named digit5 ... digit9 (sorted, they are labels 0-4: the pretrained model's
 * five outputs retargeted to the new digits). The digits are those models/mnist04_int8.tflite never
 * saw (scripts/make_pretrained.ts's splits): the fine-tuning samples and a disjoint test set.
 *
 *   npx tsx scripts/demo_data.ts <out> [--train N] [--test N]   -> <out>/train/digitK/*.bmp, <out>/test/digitK/*.bmp
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeGrayBmp } from '../src/data/bmp.ts';
import type { Digit } from '../test/helpers/mnist_pipeline.ts';
import { pretrainedSplits } from './make_pretrained.ts';

/**
 * Writes `digits` as `<folder>/digit<label + firstDigit>/<index>.bmp` (the folder replaced). The `mnist`
 * package's pixels are k/255 rounded to 3 decimals, so round(x * 255) gives back the byte k, and
 * `--pixels shift` (k - 128) feeds the model's input (scale 1/255, zero point -128) exactly.
 */
export function writeDigitFolder(folder: string, digits: readonly Digit[], firstDigit: number): void {
  rmSync(folder, { recursive: true, force: true });
  digits.forEach((d, i) => {
    const dir = path.join(folder, `digit${d.label + firstDigit}`);
    mkdirSync(dir, { recursive: true });
    const bytes = Uint8Array.from(d.pixels, (x) => Math.round(x * 255));
    writeFileSync(path.join(dir, `${String(i).padStart(4, '0')}.bmp`), encodeGrayBmp(28, 28, bytes));
  });
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { train: { type: 'string', default: '300' }, test: { type: 'string', default: '200' } } });
  if (positionals.length !== 1) throw new Error('usage: demo_data.ts <out> [--train N] [--test N]');
  const splits = pretrainedSplits();
  const count = (v: string | undefined, max: number) => Math.min(max, Number(v));
  // Digits 5-9 come with labels 0-4 (transferData): 5 is the first digit.
  writeDigitFolder(path.join(positionals[0], 'train'), splits.fineTune.slice(0, count(values.train, splits.fineTune.length)), 5);
  writeDigitFolder(path.join(positionals[0], 'test'), splits.targetTest.slice(0, count(values.test, splits.targetTest.length)), 5);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
