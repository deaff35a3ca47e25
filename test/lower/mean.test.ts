/** lowerMean: the path per numerics, QuantizedMeanOrSum's folded multiplier, the interpreter's constants, call layout, and clear errors. */
import { describe, expect, it } from 'vitest';
import type { Numerics } from '../../src/lower/numerics.ts';
import { foldMeanCount, lowerMean } from '../../src/lower/ops/mean.ts';
import { field, GraphBuilder } from './graph_builder.ts';

interface MeanOpts { shape?: number[]; axes?: number[]; out?: number[]; keepDims?: boolean; inQ?: [number, number]; outQ?: [number, number]; axesRuntime?: boolean; numerics?: Numerics }

function mean(opts: MeanOpts = {}) {
  const b = new GraphBuilder();
  const shape = opts.shape ?? [1, 7, 7, 16];
  const x = b.activation('features', shape, ...(opts.inQ ?? [0.1, -3]));
  const axes = b.bias('axes', opts.axes ?? [1, 2]);
  if (opts.axesRuntime) delete b.tensors[axes].data;
  const keepDims = opts.keepDims ?? false;
  const outShape = opts.out ?? (keepDims ? [shape[0], 1, 1, shape[3]] : [shape[0], shape[3]]);
  const y = b.activation('pooled', outShape, ...(opts.outQ ?? opts.inQ ?? [0.1, -3]));
  const op = b.op('MEAN', [x, axes], [y], { keepDims });
  const graph = b.graph();
  return () => lowerMean(graph, op, { numerics: opts.numerics ?? 'tflm' });
}

const params = (call: ReturnType<ReturnType<typeof mean>>, names = ['mode', 'input_zero_point', 'output_zero_point', 'multiplier', 'shift']) =>
  names.map((f) => field(call, f));

describe('lowerMean', () => {
  it('requantizes even when input and output are quantized alike (as TFLite Micro since November 2022)', () => {
    // 49 elements, ratio 1: floor(2^30 * 32 / 49) = 701219150, shift 1 - 5 (as below), zero points kept.
    expect(params(mean()())).toEqual(['MT_MEAN_REQUANTIZE', -3, -3, 701219150, -4]);
  });

  it('folds 1/(H*W) into the rescaling multiplier (hand-worked: ratio 1 over 4 and 49 elements)', () => {
    // QuantizeMultiplier(1) = (2^30, 1); 4 elements: shift by floor(log2 4) = 2, 2^30 * 4 / 4, shift 1 - 2.
    expect(params(mean({ shape: [1, 2, 2, 3], inQ: [0.1, 0], outQ: [0.1, 5] })())).toEqual(['MT_MEAN_REQUANTIZE', 0, 5, 2 ** 30, -1]);
    // 49 elements: shift by 5, floor(2^30 * 32 / 49) = 701219150, shift 1 - 5.
    expect(params(mean({ shape: [1, 7, 7, 3], inQ: [0.1, 0], outQ: [0.1, 5] })())).toEqual(['MT_MEAN_REQUANTIZE', 0, 5, 701219150, -4]);
  });

  it('keeps the folded multiplier equal to input_scale / (output_scale * H*W)', () => {
    for (const [h, w, si, so] of [[7, 7, 0.1, 0.07], [1, 1, 0.5, 0.25], [10, 12, 0.02, 0.3], [3, 5, 0.3, 0.001], [64, 64, 1, 1.5]]) {
      const call = mean({ shape: [1, h, w, 2], inQ: [si, 0], outQ: [so, 1] })();
      const m = Number(field(call, 'multiplier'));
      const shift = Number(field(call, 'shift'));
      const want = Math.fround(si) / Math.fround(so) / (h * w);
      expect(Math.abs((m * 2 ** shift) / 2 ** 31 / want - 1)).toBeLessThan(2 ** -28);
      expect(shift).toBeGreaterThanOrEqual(-31); // MultiplyByQuantizedMultiplier's precondition
    }
    expect(foldMeanCount({ multiplier: 2 ** 30, shift: -30 }, 1 << 20)).toEqual({ multiplier: 2 ** 30 * 2 / (1 << 20), shift: -31 });
  });

  it('takes the interpreter\'s paths in tflite numerics (hand-worked constants)', () => {
    const all = ['mode', 'input_zero_point', 'output_zero_point', 'multiplier', 'shift', 'scale', 'bias'];
    // no keep_dims, alike: the truncated integer mean
    expect(params(mean({ numerics: 'tflite' })(), all)).toEqual(['MT_MEAN_DIVIDE', 0, 0, 0, 0, 0, 0]);
    // no keep_dims, different: float scale 0.5 / 0.25 = 2 and bias -(-3) * 2 = 6
    expect(params(mean({ numerics: 'tflite', inQ: [0.5, -3], outQ: [0.25, 4] })(), all)).toEqual(['MT_MEAN_FLOAT', 0, 4, 0, 0, 2, 6]);
    // keep_dims: QuantizeMultiplier(0.5 / (4 * 0.25)) = (2^30, 0) on the raw sum; bias 4 - trunc(-3 * 2 - 0.5) = 10
    expect(params(mean({ numerics: 'tflite', keepDims: true, shape: [1, 2, 2, 3], inQ: [0.5, -3], outQ: [0.25, 4] })(), all))
      .toEqual(['MT_MEAN_REQUANTIZE', 0, 10, 2 ** 30, 0, 0, 0]);
  });

  it('accepts negative and repeated axes and keep_dims, and lays out the call as mt_mean_s8 takes it', () => {
    const call = mean({ axes: [-2, -3, 2], keepDims: true, shape: [2, 3, 4, 5] })();
    expect(call.fn).toBe('mt_mean_s8');
    expect(call.structs[0].ctype).toBe('mt_mean_params');
    expect(call.args).toEqual([
      { kind: 'struct', name: 'params' }, { kind: 'dims', values: [2, 3, 4, 5] }, { kind: 'tensor', tensor: 0 }, { kind: 'tensor', tensor: 2 },
    ]);
    expect(call.scratchBytes).toBe(0);
  });

  it('rejects other reductions and malformed graphs, naming the operator and tensor', () => {
    expect(mean({ axes: [3] })).toThrow(/operator 0 \(MEAN\): reduces axes \[3\] of 'features'; only the spatial axes \[1, 2\]/);
    expect(mean({ axes: [1] })).toThrow(/only the spatial axes/);
    expect(mean({ axes: [0, 1, 2] })).toThrow(/only the spatial axes/);
    expect(mean({ shape: [7, 7, 16], out: [16] })).toThrow(/'features' has shape \[7, 7, 16\]; MEAN is supported on 4-D/);
    expect(mean({ axesRuntime: true })).toThrow(/axes 'axes' is computed at run time/);
    expect(mean({ out: [1, 1, 1, 16] })).toThrow(/output 'pooled' has shape \[1, 1, 1, 16\], expected \[1, 16\]/);
    expect(mean({ shape: [1, 4096, 4096, 1] })).toThrow(/averages 16777216 elements/);
  });
});
