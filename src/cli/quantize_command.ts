/** `mcutrain quantize`: a float .tflite and calibration data in, an int8 .tflite out. */
import path from 'node:path';
import { printResult } from './json_output.ts';
import { McutrainError } from '../errors.ts';
import { importTfliteFile } from '../import/import_tflite.ts';
import { DEFAULT_PIXEL_RANGE, parsePixelRange, readCalibrationFolder } from '../data/calibration.ts';
import { calibrate, RANGE_METHODS, type RangeMethod } from '../quantize/calibrate.ts';
import { quantizeGraph, type FullyConnectedWeights, type IoType, type WeightType } from '../quantize/quantize_graph.ts';
import { flashConstBytes } from '../plan/flash.ts';
import { writeTflite } from '../export/write_tflite.ts';
import { analyzeGraph } from '../pipeline/pipeline.ts';
import { writeFileAtomic } from '../util/fs_atomic.ts';
import { formatBytes } from '../util/table.ts';
import { progress } from './progress.ts';
import { warn } from './warn.ts';
import type { Command } from './commands.ts';
import { typedOptions } from './config.ts';
import { optionValue, str } from './options.ts';

export const quantizeCommand: Command = {
  usage: 'quantize <model_float.tflite> --calib <dir> -o <model_int8.tflite>',
  summary: 'post-training quantization to int8 (per-channel weights)',
  help: [
    'Options:',
    '  --calib DIR            calibration samples: .bmp images, .npy arrays or raw .bin files (one sample each)',
    '  -o, --out FILE         the int8 model to write',
    `  --method M             activation ranges: ${RANGE_METHODS.join(', ')} (default minmax)`,
    '  --percentile P         for --method percentile (default 99.99)',
    `  --pixel-range A,B      the float value of pixel 0 and 255 for images (default ${DEFAULT_PIXEL_RANGE.join(',')})`,
    '  --limit N              use at most N calibration samples',
    '  --io int8|float32      type of the model\'s inputs and outputs (default int8)',
    '  --fc per-tensor|per-channel   FULLY_CONNECTED weight scales (default per-tensor, as TFLite\'s converter)',
    '  --weights int8|int4    weight type (default int8); int4 packs frozen layers two weights per byte, per channel',
    '  --keep-int8 last:N     with --weights int4: the last N weighted layers (the trained ones) stay int8',
  ].join('\n'),
  options: {
    calib: { type: 'string' }, out: { type: 'string', short: 'o' }, method: { type: 'string', default: 'minmax' },
    percentile: { type: 'string' }, 'pixel-range': { type: 'string' }, limit: { type: 'string' },
    io: { type: 'string', default: 'int8' }, fc: { type: 'string', default: 'per-tensor' },
    weights: { type: 'string', default: 'int8' }, 'keep-int8': { type: 'string' },
  },
  async run(pos, v, context) {
    const typed = typedOptions(v, context);
    if (pos.length !== 1) throw new McutrainError('quantize takes one float model', `usage: mcutrain ${this.usage}`);
    const calib = str(v.calib);
    const out = str(v.out);
    if (!calib) throw new McutrainError('quantize needs calibration data', 'add --calib <folder> with a few hundred representative inputs');
    if (!out) throw new McutrainError('quantize needs an output file', 'add -o <model_int8.tflite>');
    const method: RangeMethod = optionValue(v, 'method')!;
    const io: IoType = optionValue(v, 'io')!;
    const fullyConnected: FullyConnectedWeights = optionValue(v, 'fc')!;
    const weights: WeightType = optionValue(v, 'weights')!;
    const keepInt8 = parseKeepInt8(str(v['keep-int8']));
    if (keepInt8 > 0 && weights !== 'int4') throw new McutrainError('--keep-int8 only applies with --weights int4');
    const limit = optionValue(v, 'limit');
    const percentile = optionValue(v, 'percentile');
    // a config file's --percentile is for the runs that choose the method
    if (typed.has('percentile') && method !== 'percentile') throw new McutrainError('--percentile only applies with --method percentile');

    const graph = importTfliteFile(pos[0]);
    const samples = readCalibrationFolder(calib, graph.inputs.map((id) => graph.tensors[id]), {
      pixelRange: str(v['pixel-range']) ? parsePixelRange(str(v['pixel-range'])!) : DEFAULT_PIXEL_RANGE, limit, warn,
    });
    const bar = progress('calibrating');
    const calibration = await calibrate(graph, samples, { method, percentile, onProgress: (d, t) => bar.update(d, t) });
    bar.done();
    const int8 = quantizeGraph(graph, calibration, { io, fullyConnected, weights, keepInt8 });
    const { calls, plan } = analyzeGraph(int8); // proves the result runs on the engine before writing it
    const bytes = writeTflite(int8, { description: `quantized by mcutrain from ${path.basename(pos[0])}` });
    writeFileAtomic(out, bytes);
    console.log(`quantized ${path.basename(pos[0])} with ${samples.length} samples (${method}) into ${out} (${formatBytes(bytes.length)})`);
    console.log(`  int8 engine: SRAM arena ${formatBytes(plan.arenaBytes)}, Flash constants ${formatBytes(flashConstBytes(int8, calls))}`);
    let int4SavedBytes: number | undefined;
    if (weights === 'int4') {
      const all8 = quantizeGraph(graph, calibration, { io, fullyConnected });
      int4SavedBytes = flashConstBytes(all8, analyzeGraph(all8).calls) - flashConstBytes(int8, calls);
      console.log(`  int4 weights (last ${keepInt8} weighted layers int8): ${formatBytes(int4SavedBytes)} of Flash saved over int8 weights`);
    }
    printResult(v, { out, samples: samples.length, method, bytes: bytes.length, arenaBytes: plan.arenaBytes, flashConstBytes: flashConstBytes(int8, calls), int4SavedBytes });
    return 0;
  },
};

/** `last:N` (or a bare N): how many of the last weighted layers keep int8 weights. */
function parseKeepInt8(text: string | undefined): number {
  if (text === undefined) return 0;
  const m = /^(?:last:)?(\d+)$/.exec(text);
  if (!m) throw new McutrainError(`--keep-int8 must be last:N, not '${text}'`, 'e.g. --keep-int8 last:6 keeps the last 6 weighted layers int8');
  return Number(m[1]);
}
