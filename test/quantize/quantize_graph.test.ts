/**
 * quantizeGraph: the quantization arithmetic against the TFLite converter's own output (the official
 * vww96_int8.tflite was quantized from the same float weights as vww96_float.tflite), the operator
 * constraints on a network using every operator kind, and the quantized models in the interpreter.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextTurn } from '../../src/util/event_loop.ts';
import { McutrainError } from '../../src/errors.ts';
import { writeTflite } from '../../src/export/write_tflite.ts';
import { importTfliteFile } from '../../src/import/import_tflite.ts';
import type { Graph, Tensor } from '../../src/ir/graph.ts';
import { lowerGraph } from '../../src/lower/lower.ts';
import { calibrate, type Calibration } from '../../src/quantize/calibrate.ts';
import { createFloatReference } from '../../src/quantize/float_reference.ts';
import {
  activationParams, quantizeBias, quantizeGraph, quantizeWeights, SOFTMAX_OUTPUT, type QuantizeOptions,
} from '../../src/quantize/quantize_graph.ts';
import { readFloat32 } from '../../src/ir/tensor_data.ts';
import { model } from '../helpers/paths.ts';
import { rng } from '../helpers/random.ts';
import { loadInterpreter, type Oracle } from '../oracle/tflite_interpreter.ts';
import { argmax, FloatGraphBuilder, grayToFloatRgb, grayToInt8Rgb, syntheticScene, uniform, vwwImages } from './helpers.ts';

/** Constant contents as typed values (copied: importer data may be a view into the whole file). */
function ints(t: Tensor): Int8Array | Int32Array {
  const copy = new Uint8Array(t.data?.byteLength ?? 0);
  copy.set(t.data as Uint8Array);
  return t.dtype === 'int8' ? new Int8Array(copy.buffer) : new Int32Array(copy.buffer);
}

const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('activation parameters', () => {
  it('follow the converter: range widened to 0, scale (max-min)/255, zero point nudged', () => {
    expect(activationParams({ min: 0, max: 1 })).toEqual({ scale: Math.fround(1 / 255), zeroPoint: -128 });
    // [0.5, 2] contains no 0: widened to [0, 2]
    expect(activationParams({ min: 0.5, max: 2 })).toEqual({ scale: Math.fround(2 / 255), zeroPoint: -128 });
    expect(activationParams({ min: -3, max: -1 })).toEqual({ scale: Math.fround(3 / 255), zeroPoint: 127 });
    // -128 + 1 / (4/255) = -64.25 -> -64
    expect(activationParams({ min: -1, max: 3 })).toEqual({ scale: Math.fround(4 / 255), zeroPoint: -64 });
    // a tensor that is always 0
    expect(activationParams({ min: 0, max: 0 })).toEqual({ scale: 1, zeroPoint: -128 });
  });

  it('represent real 0 exactly and cover the range to within a step', () => {
    const next = rng(9);
    for (let i = 0; i < 500; i++) {
      const a = (next() - 0.5) * 20;
      const b = a + next() * 10;
      const { scale, zeroPoint } = activationParams({ min: a, max: b });
      expect(Number.isInteger(zeroPoint) && zeroPoint >= -128 && zeroPoint <= 127).toBe(true);
      expect(scale * (-128 - zeroPoint)).toBeLessThanOrEqual(Math.min(a, 0) + scale);
      expect(scale * (127 - zeroPoint)).toBeGreaterThanOrEqual(Math.max(b, 0) - scale);
    }
  });
});

describe('weights and biases against the converter (vww96)', () => {
  const floatGraph = importTfliteFile(model('vww96_float.tflite'));
  const official = importTfliteFile(model('vww96_int8.tflite'));
  const weighted = floatGraph.operators.filter((op) => ['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED'].includes(op.kind));

  it('given the official input scales, reproduce every weight, weight scale and bias of the official model', () => {
    let values = 0;
    let valueMismatches = 0;
    let scales = 0;
    let worstScale = 0;
    let biasMismatches = 0;
    let adjusted = 0;
    for (const op of weighted) {
      const theirs = official.operators[op.id];
      const inputScale = official.tensors[theirs.inputs[0]].quant?.scale[0] as number;
      const w = floatGraph.tensors[op.inputs[1]];
      const b = readFloat32(floatGraph.tensors[op.inputs[2]]);
      const axis = op.kind === 'DEPTHWISE_CONV_2D' ? 3 : op.kind === 'CONV_2D' ? 0 : null;
      const q = quantizeWeights(readFloat32(w), w.shape, axis, b, inputScale);
      const officialWeights = official.tensors[theirs.inputs[1]];
      const officialScales = officialWeights.quant?.scale as number[];
      expect(q.scales.length).toBe(officialScales.length);
      q.scales.forEach((s, c) => { worstScale = Math.max(worstScale, relDiff(s, officialScales[c])); scales++; });
      const theirValues = ints(officialWeights);
      theirValues.forEach((v, i) => { values++; if (q.values[i] !== v) valueMismatches++; });
      // channels whose scale was set by the bias rather than by max|w|
      const plain = quantizeWeights(readFloat32(w), w.shape, axis, null, inputScale);
      adjusted += plain.scales.filter((s, c) => s !== q.scales[c]).length;

      const bias = quantizeBias(b, inputScale, q.scales);
      const officialBias = official.tensors[theirs.inputs[2]];
      expect(bias.scales).toEqual(officialBias.quant?.scale);
      ints(officialBias).forEach((v, c) => { if (bias.values[c] !== v) biasMismatches++; });
    }
    console.log(`[vww96, official input scales] weights: ${valueMismatches}/${values} differ; ${scales} weight scales, ` +
      `max relative difference ${worstScale} (${adjusted} set by the bias); bias values differing: ${biasMismatches}`);
    expect(valueMismatches).toBe(0);
    expect(worstScale).toBe(0);
    expect(adjusted).toBeGreaterThan(0); // the model has near-dead channels: the adjustment is exercised
    expect(biasMismatches).toBe(0);
  });
});

/** A small network with every operator kind the int8 engine runs, and branches whose ranges differ. */
function everyOpGraph(): { graph: Graph; output: number } {
  const next = rng(2);
  const b = new FloatGraphBuilder();
  const x = b.input('x', [1, 8, 8, 3]);
  const conv = (name: string, input: number, cin: number, cout: number, out: number[], extra: Partial<{ activation: 'RELU6'; dilationH: number; dilationW: number }>) =>
    b.op('CONV_2D', [input, b.constant(`${name}_w`, [cout, 3, 3, cin], uniform(cout * 9 * cin, next, -0.5, 0.5)), b.constant(`${name}_b`, [cout], uniform(cout, next, -0.2, 0.2))],
      out, { padding: 'SAME', strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, activation: 'NONE', ...extra });
  const c1 = conv('c1', x, 3, 8, [1, 8, 8, 8], { activation: 'RELU6' });
  const dw = b.op('DEPTHWISE_CONV_2D', [c1, b.constant('dw_w', [1, 3, 3, 16], uniform(144, next, -0.5, 0.5)), b.constant('dw_b', [16], uniform(16, next, -0.1, 0.1))],
    [1, 4, 4, 16], { padding: 'SAME', strideH: 2, strideW: 2, dilationH: 1, dilationW: 1, depthMultiplier: 2, activation: 'RELU' });
  const c2 = conv('c2', dw, 16, 16, [1, 4, 4, 16], { dilationH: 2, dilationW: 2 });
  const sum = b.op('ADD', [dw, c2], [1, 4, 4, 16], { activation: 'RELU' });
  const avg = b.op('AVERAGE_POOL_2D', [sum], [1, 4, 4, 16], { padding: 'SAME', strideH: 1, strideW: 1, filterH: 3, filterW: 3, activation: 'NONE' });
  const max = b.op('MAX_POOL_2D', [avg], [1, 2, 2, 16], { padding: 'VALID', strideH: 2, strideW: 2, filterH: 2, filterW: 2, activation: 'NONE' });
  const pad = b.op('PAD', [max, b.ints('paddings', [0, 0, 1, 1, 1, 1, 0, 0], [4, 2])], [1, 4, 4, 16], {});
  const r6 = b.op('RELU6', [c2], [1, 4, 4, 16], {});
  const cat = b.op('CONCATENATION', [pad, r6], [1, 4, 4, 32], { axis: 3, activation: 'NONE' });
  const mean = b.op('MEAN', [cat, b.ints('axes', [1, 2])], [1, 32], { keepDims: false });
  const relu = b.op('RELU', [mean], [1, 32], {});
  const flat = b.op('RESHAPE', [relu, b.ints('shape', [1, 1, 32])], [1, 1, 32], {});
  const fc = b.op('FULLY_CONNECTED', [flat, b.constant('fc_w', [10, 32], uniform(320, next)), b.constant('fc_b', [10], uniform(10, next))],
    [1, 1, 10], { activation: 'NONE', keepNumDims: true });
  const output = b.op('SOFTMAX', [fc], [1, 1, 10], { beta: 1 });
  return { graph: b.graph([output], 'every-op'), output };
}

describe('quantizing a network with every operator kind', () => {
  const { graph } = everyOpGraph();
  let calibration: Calibration;
  beforeAll(async () => {
    const next = rng(4);
    calibration = await calibrate(graph, Array.from({ length: 40 }, () => [uniform(192, next, -1, 1)]));
  });

  const quantOf = (g: Graph, id: number) => g.tensors[id].quant;

  it('gives a graph that lowers, with the int8 kernels\' constraints met', () => {
    const q = quantizeGraph(graph, calibration);
    expect(() => lowerGraph(q)).not.toThrow();
    expect(() => lowerGraph(q, { numerics: 'tflite' })).not.toThrow();
    const byKind = (kind: string) => q.operators.filter((o) => o.kind === kind);
    for (const kind of ['AVERAGE_POOL_2D', 'MAX_POOL_2D', 'PAD', 'RESHAPE', 'RELU', 'RELU6']) {
      for (const op of byKind(kind)) expect(quantOf(q, op.outputs[0]), kind).toEqual(quantOf(q, op.inputs[0]));
    }
    const softmax = byKind('SOFTMAX')[0];
    expect(quantOf(q, softmax.outputs[0])).toEqual({ scale: [SOFTMAX_OUTPUT.scale], zeroPoint: [-128], axis: 0 });
    const concat = byKind('CONCATENATION')[0];
    for (const id of concat.inputs) expect(quantOf(q, id)).toEqual(quantOf(q, concat.outputs[0]));
    // both concatenated branches were calibrated to other ranges than the result: requantized, as the converter does
    expect(byKind('QUANTIZE')).toHaveLength(2);
    // every tensor an operator touches is int8/int32 now; weights symmetric per channel, biases int32
    for (const op of q.operators) {
      for (const id of [...op.inputs, ...op.outputs].filter((i) => i >= 0)) expect(['int8', 'int32']).toContain(q.tensors[id].dtype);
    }
    const conv = byKind('CONV_2D')[0];
    expect(q.tensors[conv.inputs[1]].quant?.scale).toHaveLength(8);
    expect(q.tensors[conv.inputs[1]].quant?.zeroPoint).toEqual(new Array(8).fill(0));
    const dw = byKind('DEPTHWISE_CONV_2D')[0];
    expect(q.tensors[dw.inputs[1]].quant).toMatchObject({ axis: 3 });
    expect(q.tensors[dw.inputs[1]].quant?.scale).toHaveLength(16);
    expect(q.tensors[byKind('FULLY_CONNECTED')[0].inputs[1]].quant?.scale).toHaveLength(1);
    // the float graph is untouched
    expect(graph.tensors.every((t) => t.dtype !== 'int8')).toBe(true);
  });

  it('quantizes FULLY_CONNECTED per channel on request', () => {
    const q = quantizeGraph(graph, calibration, { fullyConnected: 'per-channel' });
    const fc = q.operators.find((o) => o.kind === 'FULLY_CONNECTED');
    expect(q.tensors[fc?.inputs[1] as number].quant?.scale).toHaveLength(10);
    expect(q.tensors[fc?.inputs[2] as number].quant?.scale).toHaveLength(10);
    expect(() => lowerGraph(q)).not.toThrow();
  });

  it('keeps float32 edges with QUANTIZE / DEQUANTIZE on request', () => {
    const q = quantizeGraph(graph, calibration, { io: 'float32' });
    expect(q.operators[0].kind).toBe('QUANTIZE');
    expect(q.operators[q.operators.length - 1].kind).toBe('DEQUANTIZE');
    expect(q.tensors[q.inputs[0]]).toMatchObject({ name: 'x', dtype: 'float32' });
    expect(q.tensors[q.outputs[0]].dtype).toBe('float32');
    expect(q.operators.map((o) => o.id)).toEqual(q.operators.map((_, i) => i));
    expect(() => lowerGraph(q)).not.toThrow();
  });

  describe.each([
    ['int8 edges, per-tensor FC', {}],
    ['float edges, per-channel FC', { io: 'float32', fullyConnected: 'per-channel' }],
  ] as [string, QuantizeOptions][])('in the interpreter (%s)', (_, options) => {
    it('stays within a few int8 steps of the float model', async () => {
      const q = quantizeGraph(graph, calibration, options);
      const oracle = await loadInterpreter(writeTflite(q));
      const ref = await createFloatReference(graph);
      const inQ = q.tensors[q.inputs[0]].quant;
      const outQ = q.tensors[q.outputs[0]].quant;
      const next = rng(8);
      let worst = 0;
      try {
        for (let s = 0; s < 20; s++) {
          const x = uniform(192, next, -1, 1);
          const expected = ref.run([x]).get(graph.outputs[0]) as Float32Array;
          let got: number[];
          if (options.io === 'float32') {
            got = Array.from(oracle.run([x])[0]);
          } else {
            const [scale, zp] = [inQ?.scale[0] as number, inQ?.zeroPoint[0] as number];
            const qx = Int8Array.from(x, (v) => Math.max(-128, Math.min(127, Math.round(v / scale) + zp)));
            got = Array.from(oracle.run([qx])[0], (v) => (v - (outQ?.zeroPoint[0] as number)) * (outQ?.scale[0] as number));
          }
          got.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - expected[i])); });
        }
      } finally {
        oracle.dispose();
        ref.dispose();
      }
      console.log(`[every-op network, ${JSON.stringify(options)}] worst softmax error vs float: ${worst}`);
      // softmax outputs are in steps of 1/256
      expect(worst).toBeLessThan(6 / 256);
    });
  });
});

describe('vww96: quantized here vs the official int8 model', () => {
  const floatGraph = importTfliteFile(model('vww96_float.tflite'));
  const official = importTfliteFile(model('vww96_int8.tflite'));
  const images = vwwImages();
  let quantized: Graph;
  let mine: Oracle;
  let theirs: Oracle;

  beforeAll(async () => {
    const next = rng(100);
    const samples = Array.from({ length: 64 }, () => [grayToFloatRgb(syntheticScene(next, images))]);
    const calibration = await calibrate(floatGraph, samples);
    quantized = quantizeGraph(floatGraph, calibration);
    mine = await loadInterpreter(writeTflite(quantized));
    theirs = await loadInterpreter(new Uint8Array(readFileSync(model('vww96_int8.tflite'))));
  });
  afterAll(() => {
    mine?.dispose();
    theirs?.dispose();
  });

  it('lowers, with int8 input and output like the official model', () => {
    expect(() => lowerGraph(quantized)).not.toThrow();
    const input = quantized.tensors[quantized.inputs[0]];
    // pixels in [0, 1] (image / 255): exactly the official model's input quantization
    expect(input.dtype).toBe('int8');
    expect(input.quant).toEqual(official.tensors[official.inputs[0]].quant);
    expect(quantized.tensors[quantized.outputs[0]].quant).toEqual(official.tensors[official.outputs[0]].quant);
  });

  it('has the official per-channel weight scales wherever max|w| sets them', () => {
    let worst = 0;
    let compared = 0;
    let biasSet = 0;
    for (const op of quantized.operators.filter((o) => ['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED'].includes(o.kind))) {
      const w = floatGraph.tensors[floatGraph.operators[op.id].inputs[1]];
      const axis = op.kind === 'DEPTHWISE_CONV_2D' ? 3 : op.kind === 'CONV_2D' ? 0 : null;
      const plain = quantizeWeights(readFloat32(w), w.shape, axis, null, 1);
      const ours = quantized.tensors[op.inputs[1]].quant?.scale as number[];
      const theirs = official.tensors[op.inputs[1]].quant?.scale as number[];
      ours.forEach((s, c) => {
        // a channel whose scale the bias set depends on the calibrated input scale, which differs
        if (s !== plain.scales[c] || theirs[c] !== plain.scales[c]) { biasSet++; return; }
        worst = Math.max(worst, relDiff(s, theirs[c]));
        compared++;
      });
    }
    console.log(`[vww96, own calibration] ${compared} weight scales set by max|w|: max relative difference to the official model ${worst}; ${biasSet} set by the bias`);
    expect(compared).toBeGreaterThan(1500);
    expect(worst).toBe(0);
  });

  it('agrees with the official model\'s top-1 on person.bmp and no_person.bmp', () => {
    for (const image of [images.person, images.noPerson]) {
      const x = grayToInt8Rgb(image);
      const a = mine.run([x])[0];
      const b = theirs.run([x])[0];
      console.log(`[vww96] scores here ${Array.from(a)}, official ${Array.from(b)}`);
      expect(argmax(a)).toBe(argmax(b));
    }
  });

  it('agrees with the official model on most of 300 synthetic scenes', async () => {
    const ref = await createFloatReference(floatGraph);
    const next = rng(555);
    const n = 300;
    let withOfficial = 0;
    let mineWithFloat = 0;
    let officialWithFloat = 0;
    try {
      for (let s = 0; s < n; s++) {
        if (s % 20 === 0) await nextTurn(); // ~1 s of interpreter runs between turns: the worker keeps its link to vitest
        const scene = syntheticScene(next, images);
        const a = argmax(mine.run([grayToInt8Rgb(scene)])[0]);
        const b = argmax(theirs.run([grayToInt8Rgb(scene)])[0]);
        const f = argmax(ref.run([grayToFloatRgb(scene)]).get(floatGraph.outputs[0]) as Float32Array);
        if (a === b) withOfficial++;
        if (a === f) mineWithFloat++;
        if (b === f) officialWithFloat++;
      }
    } finally {
      ref.dispose();
    }
    console.log(`[vww96, ${n} synthetic scenes] top-1 agreement: here vs official ${withOfficial / n}, here vs float ${mineWithFloat / n}, official vs float ${officialWithFloat / n}`);
    expect(withOfficial / n).toBeGreaterThanOrEqual(0.9);
    expect(mineWithFloat / n).toBeGreaterThanOrEqual(0.9);
  }, 300_000);
});

describe('quantizeGraph errors', () => {
  const { graph } = everyOpGraph();

  it('refuses a model that is already int8, naming the operator and tensor', () => {
    const int8 = importTfliteFile(model('vww96_int8.tflite'));
    const calibration: Calibration = { graph: 'x', method: 'minmax', samples: 0, ranges: new Map(), observed: new Map() };
    expect(() => quantizeGraph(int8, calibration)).toThrow(McutrainError);
    expect(() => quantizeGraph(int8, calibration)).toThrow(/operator 0 \(CONV_2D\): tensor 'input_1_int8' is int8, expected float32/);
  });

  it('refuses a calibration made for another graph', async () => {
    const other = importTfliteFile(model('hello_world_float.tflite'));
    const calibration = await calibrate(other, [[new Float32Array([1])]]);
    let error: unknown;
    try {
      quantizeGraph(graph, calibration);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(McutrainError);
    expect((error as McutrainError).message).toMatch(/calibration has no range for tensor 3 'conv_2d_0'/);
    expect((error as McutrainError).hint).toMatch(/calibration given was made for 'hello_world_float.tflite'/);
  });
});
