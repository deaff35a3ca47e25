/**
 * The float gradient oracle: its tfjs gradients against central finite differences of its own forward
 * pass on a small hand-built int8 graph holding every operator it supports, and its output on the VWW
 * reference model (shapes, finite values, the loss of its logits, agreement with the TFLite interpreter).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { McutrainError } from '../../src/errors.ts';
import { importTfliteFile } from '../../src/import/import_tflite.ts';
import { elementCount, type Graph } from '../../src/ir/graph.ts';
import { packInt4 } from '../../src/ir/int4.ts';
import { model } from '../helpers/paths.ts';
import { rng } from '../helpers/random.ts';
import { GraphBuilder } from '../lower/graph_builder.ts';
import { argmax, grayToInt8Rgb, vwwImages } from '../quantize/helpers.ts';
import {
  cosineSimilarity, crossEntropy, dequantizeConstant, floatGradients, floatLoss, relativeError,
} from './float_gradients.ts';
import { loadInterpreter } from './tflite_interpreter.ts';

const randomInts = (n: number, next: () => number, lo: number, hi: number) =>
  Array.from({ length: n }, () => lo + Math.floor(next() * (hi - lo + 1)));

interface TinyGraph { graph: Graph; logits: number; params: Record<string, number> }

/**
 * PAD -> CONV_2D 3x3/2 SAME (RELU, per-channel) -> DEPTHWISE 3x3 x2 (RELU6) + CONV_2D 1x1 -> ADD ->
 * AVERAGE_POOL_2D 2x2 -> MEAN(H, W) -> RESHAPE -> FULLY_CONNECTED (4 classes).
 */
function tinyGraph(keepDims: boolean, seed: number): TinyGraph {
  const next = rng(seed);
  const b = new GraphBuilder();
  const ints = (name: string, values: number[], shape: number[]) => {
    const id = b.bias(name, values);
    b.tensors[id].shape = shape;
    return id;
  };
  const sIn = 0.05;
  const x = b.activation('input', [1, 6, 6, 2], sIn, 3);
  const padded = b.activation('padded', [1, 8, 7, 2], sIn, 3);
  b.op('PAD', [x, ints('paddings', [0, 0, 1, 1, 1, 0, 0, 0], [4, 2])], [padded], {});

  const sW1 = [0.004, 0.003, 0.005];
  const w1 = b.weights('conv1/w', [3, 3, 3, 2], randomInts(54, next, -127, 127), sW1, 0);
  const b1 = b.bias('conv1/b', randomInts(3, next, -300, 300), undefined);
  b.tensors[b1].quant = { scale: sW1.map((s) => s * sIn), zeroPoint: [0, 0, 0], axis: 0 };
  const c1 = b.activation('conv1', [1, 4, 4, 3], 0.02, -128);
  const conv = { strideH: 2, strideW: 2, dilationH: 1, dilationW: 1 };
  b.op('CONV_2D', [padded, w1, b1], [c1], { padding: 'SAME', ...conv, activation: 'RELU' });

  // depthwise, multiplier 2: 3 input channels -> 6
  const sW2 = [0.01, 0.012, 0.008, 0.011, 0.009, 0.01];
  const w2 = b.weights('dw/w', [1, 3, 3, 6], randomInts(54, next, -127, 127), sW2, 3);
  const b2 = b.bias('dw/b', randomInts(6, next, -500, 500));
  b.tensors[b2].quant = { scale: sW2.map((s) => s * 0.02), zeroPoint: sW2.map(() => 0), axis: 0 };
  const d = b.activation('dw', [1, 4, 4, 6], 6 / 255, -128);
  b.op('DEPTHWISE_CONV_2D', [c1, w2, b2], [d], {
    padding: 'SAME', strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, depthMultiplier: 2, activation: 'RELU6',
  });

  const sW3 = [0.02];
  const w3 = b.weights('proj/w', [6, 1, 1, 3], randomInts(18, next, -127, 127), sW3, 0);
  const b3 = b.bias('proj/b', randomInts(6, next, -200, 200), sW3[0] * 0.02);
  const p = b.activation('proj', [1, 4, 4, 6], 0.03, 5);
  b.op('CONV_2D', [c1, w3, b3], [p], { padding: 'VALID', strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, activation: 'NONE' });

  const sum = b.activation('sum', [1, 4, 4, 6], 0.04, -10);
  b.op('ADD', [d, p], [sum], { activation: 'NONE' });
  const pooled = b.activation('pooled', [1, 2, 2, 6], 0.04, -10);
  b.op('AVERAGE_POOL_2D', [sum], [pooled], { padding: 'VALID', strideH: 2, strideW: 2, filterH: 2, filterW: 2, activation: 'NONE' });
  const m = b.activation('mean', keepDims ? [1, 1, 1, 6] : [1, 6], 0.03, -12);
  b.op('MEAN', [pooled, ints('axes', [1, 2], [2])], [m], { keepDims });
  const flat = b.activation('flat', [1, 6], 0.03, -12);
  b.op('RESHAPE', [m, ints('shape', [1, 6], [2])], [flat], {});

  const sW4 = [0.01, 0.015, 0.012, 0.008];
  const w4 = b.weights('fc/w', [4, 6], randomInts(24, next, -127, 127), sW4, 0);
  const b4 = b.bias('fc/b', randomInts(4, next, -1000, 1000), undefined);
  b.tensors[b4].quant = { scale: sW4.map((s) => s * 0.03), zeroPoint: sW4.map(() => 0), axis: 0 };
  const logits = b.activation('logits', [1, 4], 0.1, 0);
  b.op('FULLY_CONNECTED', [flat, w4, b4], [logits], { activation: 'NONE', keepNumDims: false });

  const graph = { ...b.graph(), inputs: [x], outputs: [logits] };
  return { graph, logits, params: { 'conv1/w': w1, 'conv1/b': b1, 'dw/w': w2, 'dw/b': b2, 'proj/w': w3, 'proj/b': b3, 'fc/w': w4, 'fc/b': b4 } };
}

/**
 * dL/d(real value) of every element of `tensor` by central differences of the oracle's forward pass,
 * the quotient in float64 over the step actually taken (the perturbed value rounded to float32).
 * The float model is piecewise linear up to the softmax, so the forward and backward one-sided
 * differences agree unless a clamp boundary (a kink) lies within the step: such elements are marked
 * `kinked`, the central difference there means nothing.
 */
async function finiteDifferences(t: TinyGraph, tensor: number, input: Int8Array, label: number, h: number):
    Promise<{ fd: Float64Array; kinked: boolean[]; worstOneSided: number }> {
  const base = dequantizeConstant(t.graph.tensors[tensor]);
  const loss = async (values: Float32Array) => (await floatLoss(t.graph, t.logits, input, label, new Map([[tensor, values]]))).loss;
  const l0 = await loss(base);
  const fd = new Float64Array(base.length);
  const kinked: boolean[] = [];
  let worstOneSided = 0;
  for (let i = 0; i < base.length; i++) {
    const plus = Float32Array.from(base);
    const minus = Float32Array.from(base);
    plus[i] += h;
    minus[i] -= h;
    const [lp, lm] = [await loss(plus), await loss(minus)];
    fd[i] = (lp - lm) / (plus[i] - minus[i]);
    const gap = Math.abs((lp - l0) / (plus[i] - base[i]) - (l0 - lm) / (base[i] - minus[i]));
    kinked.push(gap > KINK_GAP);
    if (gap <= KINK_GAP) worstOneSided = Math.max(worstOneSided, gap);
  }
  return { fd, kinked, worstOneSided };
}

/** One-sided differences further apart than this mean a kink within the step (smooth parts and float32 noise stay well below). */
const KINK_GAP = 3e-3;

describe('floatGradients against finite differences (hand-built graph, every supported operator)', () => {
  it.each([true, false])('MEAN keepDims %s: each layer\'s weight and bias gradients', async (keepDims) => {
    const t = tinyGraph(keepDims, keepDims ? 3 : 4);
    const next = rng(keepDims ? 30 : 40);
    const input = Int8Array.from(randomInts(72, next, -128, 127));
    const label = 2;
    const ids = Object.values(t.params);
    const result = await floatGradients(t.graph, t.logits, ids.map((tensor) => ({ tensor })), input, label);
    expect(result.loss).toBeCloseTo(crossEntropy(result.logits, label), 5);
    const report: string[] = [];
    for (const [name, id] of Object.entries(t.params)) {
      const grad = result.grads.get(id) as Float32Array;
      expect(grad.length).toBe(elementCount(t.graph.tensors[id].shape));
      const { fd, kinked, worstOneSided } = await finiteDifferences(t, id, input, label, 1e-3);
      const smooth = (v: ArrayLike<number>) => Array.from(v).filter((_, i) => !kinked[i]);
      const [g, f] = [smooth(grad), smooth(fd)];
      const rel = relativeError(g, f);
      const cos = cosineSimilarity(g, f);
      const maxAbs = Math.max(...g.map((v, i) => Math.abs(v - f[i])));
      const skipped = kinked.filter(Boolean).length;
      report.push(`${name}: |g|=${Math.hypot(...grad).toExponential(2)} rel=${rel.toExponential(2)} cos=${cos.toFixed(7)} ` +
        `maxAbs=${maxAbs.toExponential(2)} kinked=${skipped}/${grad.length} oneSidedGap=${worstOneSided.toExponential(1)}`);
      expect(Math.hypot(...grad), `${name} has a zero gradient: the test graph saturates`).toBeGreaterThan(1e-3);
      expect(skipped, `${name}: too many kinks within the step`).toBeLessThanOrEqual(Math.ceil(0.2 * grad.length));
      expect(rel, name).toBeLessThan(2e-3);
      expect(cos, name).toBeGreaterThan(0.99999);
    }
    console.log(`keepDims ${keepDims}, loss ${result.loss.toFixed(5)}\n  ${report.join('\n  ')}`);
  });

  it('the clamp masks the gradient where the int8 output saturates', async () => {
    // A single FC whose output range is tiny: the clamped logit passes no gradient to its weights or bias.
    const b = new GraphBuilder();
    const x = b.activation('x', [1, 2], 0.1, 0);
    const w = b.weights('w', [2, 2], [100, 0, 0, 100], [0.01], 0);
    const bias = b.bias('b', [0, 0], 0.001);
    const y = b.activation('y', [1, 2], 0.001, 0); // real range [-0.128, 0.127]
    b.op('FULLY_CONNECTED', [x, w, bias], [y], { activation: 'NONE', keepNumDims: false });
    const graph = { ...b.graph(), inputs: [x], outputs: [y] };
    const r = await floatGradients(graph, y, [{ tensor: w }, { tensor: bias }], Int8Array.from([50, 1]), 0);
    // y0 = 5 clamps to 0.127; y1 = 0.1 passes
    expect(Array.from(r.logits)).toEqual([Math.fround(0.127), expect.closeTo(0.1, 6) as unknown as number]);
    const gb = r.grads.get(bias) as Float32Array;
    expect(gb[0]).toBe(0);
    expect(gb[1]).toBeCloseTo(Math.exp(r.logits[1]) / (Math.exp(r.logits[0]) + Math.exp(r.logits[1])), 6);
    expect(Array.from(r.grads.get(w) as Float32Array).slice(0, 2)).toEqual([0, 0]);
    // At the logits the clamp is projected (as the engine's): with label 1 the loss wants the saturated
    // logit 0 lower, back into range, and that gradient passes.
    const back = await floatGradients(graph, y, [{ tensor: bias }], Int8Array.from([50, 1]), 1);
    const p0 = Math.exp(back.logits[0]) / (Math.exp(back.logits[0]) + Math.exp(back.logits[1]));
    expect((back.grads.get(bias) as Float32Array)[0]).toBeCloseTo(p0, 6);
  });
});

describe('dequantizeConstant', () => {
  it('applies per-channel scales and zero points along quant.axis, int8 and int4', () => {
    const b = new GraphBuilder();
    const conv = b.weights('w', [2, 1, 1, 3], [1, 2, 3, -4, -5, -6], [0.5, 2], 0, [1, 0]);
    const dw = b.weights('dw', [1, 1, 2, 3], [1, 2, 3, 4, 5, 6], [1, 10, 100], 3);
    expect(Array.from(dequantizeConstant(b.tensors[conv]))).toEqual([0, 0.5, 1, -8, -10, -12]);
    expect(Array.from(dequantizeConstant(b.tensors[dw]))).toEqual([1, 20, 300, 4, 50, 600]);
    const int4 = { ...b.tensors[conv], dtype: 'int4' as const, data: packInt4([1, 2, 3, -4, -5, -6]) };
    expect(Array.from(dequantizeConstant(int4))).toEqual([0, 0.5, 1, -8, -10, -12]);
  });

  it('the oracle refuses operators it does not differentiate, with a clear error', async () => {
    const b = new GraphBuilder();
    const x = b.activation('x', [1, 2], 0.1, 0);
    const y = b.activation('y', [1, 2], 1 / 256, -128);
    b.op('SOFTMAX', [x], [y], { beta: 1 });
    const graph = { ...b.graph(), inputs: [x], outputs: [y] };
    const err = await floatGradients(graph, y, [], Int8Array.from([1, 2]), 0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McutrainError);
    expect((err as Error).message).toMatch(/operator 0 \(SOFTMAX\) is not supported by the float gradient oracle/);
  });
});

describe('floatGradients on vww96_int8.tflite', () => {
  it('gradients of the last conv and the FC, for one random input', async () => {
    const graph = importTfliteFile(model('vww96_int8.tflite'));
    const fc = graph.operators.find((op) => op.kind === 'FULLY_CONNECTED');
    const conv = graph.operators.filter((op) => op.kind === 'CONV_2D').at(-1);
    if (!fc || !conv) throw new Error('vww96 has no FC or conv');
    const trainables = [conv.inputs[1], conv.inputs[2], fc.inputs[1], fc.inputs[2]];
    const next = rng(7);
    const input = Int8Array.from(randomInts(96 * 96 * 3, next, -128, 127));
    for (const label of [0, 1]) {
      const r = await floatGradients(graph, fc.outputs[0], trainables.map((tensor) => ({ tensor })), input, label);
      expect(r.logits.length).toBe(2);
      expect(r.loss).toBeCloseTo(crossEntropy(r.logits, label), 5);
      for (const id of trainables) {
        const g = r.grads.get(id) as Float32Array;
        expect(g.length, graph.tensors[id].name).toBe(elementCount(graph.tensors[id].shape));
        expect(g.every(Number.isFinite), graph.tensors[id].name).toBe(true);
        expect(g.some((v) => v !== 0), graph.tensors[id].name).toBe(true);
      }
      // dL/dbias of the FC is softmax - onehot, except where the logit sits at a bound of its int8 range
      // and the gradient would push it further out (random pixels push logit 1 to the bottom of vww96's
      // logit range: label 0 wants it lower, blocked; label 1 wants it higher, passed)
      const p1 = 1 / (1 + Math.exp(r.logits[0] - r.logits[1]));
      const { scale: [s], zeroPoint: [zp] } = graph.tensors[fc.outputs[0]].quant as { scale: number[]; zeroPoint: number[] };
      const clamped = Array.from(r.logits, (v) => v === Math.fround(s * (-128 - zp)) || v === Math.fround(s * (127 - zp)));
      expect(clamped).toEqual([false, true]);
      const expected = (label === 0 ? [-p1, p1] : [1 - p1, p1 - 1]).map((v, i) => (clamped[i] && v > 0 ? 0 : v));
      const gb = r.grads.get(fc.inputs[2]) as Float32Array;
      expect(gb[0]).toBeCloseTo(expected[0], 5);
      if (expected[1] === 0) expect(gb[1]).toBe(0);
      else expect(gb[1]).toBeCloseTo(expected[1], 5);
    }
  });

  it('its logits agree with the int8 interpreter (rounding is the only difference)', async () => {
    const graph = importTfliteFile(model('vww96_int8.tflite'));
    const fc = graph.operators.find((op) => op.kind === 'FULLY_CONNECTED');
    if (!fc) throw new Error('vww96 has no FC');
    const oracle = await loadInterpreter(new Uint8Array(readFileSync(model('vww96_int8.tflite'))));
    try {
      const images = vwwImages();
      for (const [gray, cls] of [[images.person, 1], [images.noPerson, 0]] as const) {
        const input = grayToInt8Rgb(gray);
        const { logits } = await floatLoss(graph, fc.outputs[0], input, cls);
        const q = oracle.run([input])[0];
        const out = graph.tensors[graph.outputs[0]].quant as { scale: number[]; zeroPoint: number[] };
        const probs = Array.from(q, (v) => out.scale[0] * (v - out.zeroPoint[0]));
        const p1 = 1 / (1 + Math.exp(logits[0] - logits[1]));
        console.log(`vww96 ${cls ? 'person' : 'no_person'}: float logits [${Array.from(logits, (v) => v.toFixed(3))}], P(person) float ${p1.toFixed(4)}, int8 ${probs[1].toFixed(4)}`);
        expect(argmax(logits)).toBe(argmax(probs));
        expect(Math.abs(p1 - probs[1])).toBeLessThan(0.1);
      }
    } finally {
      oracle.dispose();
    }
  });
});
