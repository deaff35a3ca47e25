/**
 * SOFTMAX, MEAN, PAD, CONCATENATION, QUANTIZE, DEQUANTIZE, RELU and RELU6 against the TensorFlow Lite
 * interpreter (the oracle nobody here wrote): each case is a one-operator .tflite file, imported by
 * importTflite, lowered by the operator's lowering, run by its kernel harness (ASan/UBSan), and
 * compared with what the interpreter computes for the same file and inputs.
 *
 * Where the interpreter's kernels differ from TensorFlow Lite Micro's (which the kernels follow),
 * the test pins down how far apart they may be:
 *  - SOFTMAX: the interpreter's optimized int8 softmax agrees with TFLM's gemmlowp fixed point
 *    except near rounding ties, by one step at most (about 1 output in 70,000 in our sampling).
 *  - MEAN: the kernel follows either; here it is lowered in tflite numerics and must agree bit for bit.
 *  - QUANTIZE from float32: TFLM divides x / scale in float32, the interpreter in double; they
 *    differ by one step where the float32 quotient rounds onto (or off) a halfway point.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Graph } from '../../src/ir/graph.ts';
import { elementCount } from '../../src/ir/graph.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import {
  BuiltinOperator, BuiltinOptionsType, ConcatenationOptionsTable, ReducerOptionsTable, SoftmaxOptionsTable,
} from '../../src/import/tflite_schema.ts';
import type { KernelArg, KernelCall } from '../../src/lower/kernel_call.ts';
import type { Dims4 } from '../../src/lower/params_structs.ts';
import { lowerConcatenation } from '../../src/lower/ops/concatenation.ts';
import { lowerMean } from '../../src/lower/ops/mean.ts';
import { lowerPad } from '../../src/lower/ops/pad.ts';
import { lowerDequantize, lowerQuantize } from '../../src/lower/ops/quantize.ts';
import { lowerRelu, lowerRelu6 } from '../../src/lower/ops/activation.ts';
import { lowerSoftmax } from '../../src/lower/ops/softmax.ts';
import { buildTflite, TensorType, type OpSpec, type TensorSpec } from '../import/tflite_builder.ts';
import { loadInterpreter } from '../oracle/tflite_interpreter.ts';
import { buildKernelHarness, seededInts, type KernelHarness } from './c_harness.ts';
import { runCases } from './case_runner.ts';

const HARNESSES = ['softmax', 'mean', 'pad', 'concatenation', 'quantize', 'requantize'] as const;
type HarnessName = (typeof HARNESSES)[number];
const harness = {} as Record<HarnessName, KernelHarness>;
beforeAll(() => { for (const h of HARNESSES) harness[h] = buildKernelHarness(h, [h]); });
afterAll(() => { for (const h of HARNESSES) harness[h]?.cleanup(); });

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);
const bitsOf = (x: number) => { f32[0] = x; return i32[0]; };

/** A one-operator model: tensor 0.. are the spec's tensors; the operator's inputs without data are the model inputs. */
function oneOpModel(tensors: TensorSpec[], op: OpSpec): { bytes: Uint8Array; graph: Graph } {
  const inputs = op.inputs.filter((i) => !tensors[i].data);
  const bytes = buildTflite({ tensors, operators: [op], inputs, outputs: op.outputs });
  return { bytes, graph: importTflite(bytes, 'one-op') };
}

function lower(graph: Graph): KernelCall {
  const op = graph.operators[0];
  switch (op.kind) {
    case 'SOFTMAX': return lowerSoftmax(graph, op);
    case 'MEAN': return lowerMean(graph, op, { numerics: 'tflite' });
    case 'PAD': return lowerPad(graph, op);
    case 'CONCATENATION': return lowerConcatenation(graph, op);
    case 'QUANTIZE': return lowerQuantize(graph, op);
    case 'DEQUANTIZE': return lowerDequantize(graph, op);
    case 'RELU': return lowerRelu(graph, op);
    case 'RELU6': return lowerRelu6(graph, op);
    default: throw new Error(`no lowering wired for ${op.kind}`);
  }
}

/** The struct field values of a call, by name; enum names as their values, dims4 and arrays as number lists. */
function fieldNumbers(call: KernelCall, name: string): number[] {
  const fields: Record<string, unknown> = call.structs[0].fields;
  const v = fields[name];
  if (v === undefined) throw new Error(`${call.fn} has no field ${name}`);
  if (typeof v === 'number') return [v];
  if (typeof v === 'string') return [['MT_MEAN_DIVIDE', 'MT_MEAN_REQUANTIZE', 'MT_MEAN_FLOAT'].indexOf(v)];
  if (Array.isArray(v)) return v.map(Number);
  const { n, h, w, c } = v as Dims4;
  return [n, h, w, c];
}

/** Encodes a lowered call and its input data as a line of the matching harness's "run" mode. */
function harnessCase(call: KernelCall, data: number[][]): { name: HarnessName; line: number[] } {
  const v = (...names: string[]) => names.flatMap((n) => fieldNumbers(call, n));
  const dims = (call.args.find((a) => a.kind === 'dims') as Extract<KernelArg, { kind: 'dims' }> | undefined)?.values ?? [];
  const fn = call.fn ?? '';
  if (fn === 'mt_softmax_s8') return { name: 'softmax', line: [...v('input_multiplier', 'input_left_shift', 'diff_min', 'rows', 'depth'), ...data[0]] };
  if (fn === 'mt_mean_s8') return { name: 'mean', line: [...v('mode', 'input_zero_point', 'output_zero_point', 'multiplier', 'shift'), ...v('scale', 'bias').map(bitsOf), ...dims, ...data[0]] };
  if (fn === 'mt_pad_s8') return { name: 'pad', line: [...dims, ...v('before', 'after', 'pad_value'), ...data[0]] };
  if (fn.startsWith('mt_concatenation')) return { name: 'concatenation', line: [data.length, ...v('outer_count', 'slice_sizes'), ...data.flat()] };
  if (fn === 'mt_quantize_f32_s8') return { name: 'quantize', line: [0, bitsOf(v('scale')[0]), ...v('zero_point', 'count'), ...data[0].map(bitsOf)] };
  if (fn === 'mt_dequantize_s8_f32') return { name: 'quantize', line: [1, bitsOf(v('scale')[0]), ...v('zero_point', 'count'), ...data[0]] };
  if (fn === 'mt_requantize_tensor_s8') return { name: 'requantize', line: [...v('input_zero_point', 'output_zero_point', 'multiplier', 'shift', 'act_min', 'act_max', 'count'), ...data[0]] };
  throw new Error(`no harness for ${fn}`);
}

interface Case { tensors: TensorSpec[]; op: OpSpec; data: number[][] }

/** Runs every case through import -> lowering -> kernel and through the interpreter; returns both outputs per case. */
async function compare(cases: Case[]): Promise<{ mine: number[]; theirs: number[] }[]> {
  const lines = new Map<HarnessName, { index: number; line: number[] }[]>();
  const theirs: number[][] = [];
  for (const [index, c] of cases.entries()) {
    const { bytes, graph } = oneOpModel(c.tensors, c.op);
    const { name, line } = harnessCase(lower(graph), c.data);
    lines.set(name, [...(lines.get(name) ?? []), { index, line }]);
    const oracle = await loadInterpreter(bytes);
    const inputs = oracle.inputs.map((t, i) => (t.dtype === 'float32' ? Float32Array.from(c.data[i]) : Int8Array.from(c.data[i])));
    const out = oracle.run(inputs)[0];
    theirs[index] = out instanceof Float32Array ? Array.from(out, bitsOf) : Array.from(out);
    oracle.dispose();
  }
  const mine: number[][] = [];
  for (const [name, entries] of lines) {
    runCases(harness[name], entries.map((e) => e.line)).forEach((out, k) => { mine[entries[k].index] = out; });
  }
  return cases.map((_, i) => ({ mine: mine[i], theirs: theirs[i] }));
}

const int8Tensor = (shape: number[], scale: number, zeroPoint: number): TensorSpec => ({ shape, type: TensorType.INT8, quant: { scale: [scale], zeroPoint: [zeroPoint] } });
const int32Const = (shape: number[], values: number[]): TensorSpec => ({ shape, type: TensorType.INT32, data: new Uint8Array(Int32Array.from(values).buffer) });
const randomInt8 = (rand: (lo: number, hi: number) => number, n: number) => Array.from({ length: n }, () => rand(-128, 127));
const randomScale = (rand: (lo: number, hi: number) => number) => Math.fround(10 ** (rand(-2500, 0) / 1000));

function differences(results: { mine: number[]; theirs: number[] }[]) {
  let outputs = 0;
  let differing = 0;
  let largest = 0;
  for (const { mine, theirs } of results) {
    expect(mine.length).toBe(theirs.length);
    mine.forEach((m, i) => {
      outputs++;
      if (m !== theirs[i]) { differing++; largest = Math.max(largest, Math.abs(m - theirs[i])); }
    });
  }
  return { outputs, differing, largest };
}

describe('kernels vs the TensorFlow Lite interpreter', () => {
  it('SOFTMAX agrees except at rare near-ties, by one step at most', async () => {
    const rand = seededInts(2718);
    const cases = Array.from({ length: 60 }, (): Case => {
      const depth = rand(1, 40);
      const shape = [8, depth];
      return {
        tensors: [int8Tensor(shape, randomScale(rand), rand(-128, 127)), int8Tensor(shape, 1 / 256, -128)],
        op: { code: BuiltinOperator.SOFTMAX, inputs: [0], outputs: [1], options: { type: BuiltinOptionsType.SoftmaxOptions, schema: SoftmaxOptionsTable, fields: { beta: { float32: [1, 1, 0.5, 2][rand(0, 3)] } } } },
        // a quarter of the logits high, so rows have several large probabilities
        data: [Array.from({ length: 8 * depth }, () => (rand(0, 3) === 0 ? rand(60, 127) : rand(-128, 127)))],
      };
    });
    const d = differences(await compare(cases));
    expect(d.largest).toBeLessThanOrEqual(1);
    expect(d.differing).toBeLessThanOrEqual(Math.ceil(d.outputs / 1000));
  });

  it('QUANTIZE from float32 agrees except where the quotient is within float32 rounding of a halfway point', async () => {
    const rand = seededInts(1732);
    const cases = Array.from({ length: 10 }, (): Case & { scale: number } => {
      const scale = randomScale(rand);
      // float32 reals over twice the int8 range, and halfway points between steps
      const reals = Array.from({ length: 256 }, (_, i) => Math.fround(i % 2 ? (rand(-140, 140) + 0.5) * scale : (rand(-256000, 256000) / 1000) * scale));
      return {
        scale,
        tensors: [{ shape: [256], type: TensorType.FLOAT32 }, int8Tensor([256], scale, rand(-128, 127))],
        op: { code: BuiltinOperator.QUANTIZE, inputs: [0], outputs: [1] },
        data: [reals],
      };
    });
    const results = await compare(cases);
    results.forEach(({ mine, theirs }, k) => mine.forEach((m, i) => {
      const quotient = cases[k].data[0][i] / cases[k].scale; // in double, as the interpreter divides
      const nearHalf = Math.abs(Math.abs(quotient % 1) - 0.5) < 1e-5;
      expect(Math.abs(m - theirs[i]), `case ${k} input ${i}: x / scale = ${quotient}`).toBeLessThanOrEqual(nearHalf ? 1 : 0);
    }));
  });

  it('PAD, CONCATENATION, QUANTIZE int8, DEQUANTIZE, RELU and RELU6 agree bit for bit', async () => {
    const rand = seededInts(1618);
    const cases: Case[] = [];
    for (let k = 0; k < 12; k++) {
      const rank = rand(1, 4);
      const shape = Array.from({ length: rank }, () => rand(1, 5));
      const paddings = shape.flatMap(() => [rand(0, 2), rand(0, 2)]);
      const q: [number, number] = [randomScale(rand), rand(-128, 127)];
      cases.push({
        tensors: [int8Tensor(shape, ...q), int32Const([rank, 2], paddings), int8Tensor(shape.map((s, i) => s + paddings[2 * i] + paddings[2 * i + 1]), ...q)],
        op: { code: BuiltinOperator.PAD, inputs: [0, 1], outputs: [2] },
        data: [randomInt8(rand, elementCount(shape))],
      });
    }
    for (let k = 0; k < 12; k++) {
      const rank = rand(1, 4);
      const axis = rand(-rank, rank - 1);
      const a = (axis + rank) % rank;
      const base = Array.from({ length: rank }, () => rand(1, 4));
      const shapes = Array.from({ length: rand(2, 4) }, () => base.map((d, j) => (j === a ? rand(1, 3) : d)));
      const q: [number, number] = [randomScale(rand), rand(-128, 127)];
      const out = base.map((d, j) => (j === a ? shapes.reduce((s, sh) => s + sh[j], 0) : d));
      cases.push({
        tensors: [...shapes.map((s) => int8Tensor(s, ...q)), int8Tensor(out, ...q)],
        op: { code: 2 /* CONCATENATION */, inputs: shapes.map((_, i) => i), outputs: [shapes.length], options: { type: BuiltinOptionsType.ConcatenationOptions, schema: ConcatenationOptionsTable, fields: { axis: { int32: axis } } } },
        data: shapes.map((s) => randomInt8(rand, elementCount(s))),
      });
    }
    const all = Array.from({ length: 256 }, (_, i) => i - 128);
    for (let k = 0; k < 8; k++) {
      const inQ: [number, number] = [randomScale(rand), rand(-128, 127)];
      const outQ: [number, number] = k % 2 ? inQ : [randomScale(rand), rand(-128, 127)];
      cases.push(
        { tensors: [int8Tensor([256], ...inQ), int8Tensor([256], ...outQ)], op: { code: BuiltinOperator.QUANTIZE, inputs: [0], outputs: [1] }, data: [all] },
        { tensors: [int8Tensor([256], ...inQ), { shape: [256], type: TensorType.FLOAT32 }], op: { code: BuiltinOperator.DEQUANTIZE, inputs: [0], outputs: [1] }, data: [all] },
        { tensors: [int8Tensor([256], ...inQ), int8Tensor([256], ...outQ)], op: { code: BuiltinOperator.RELU, inputs: [0], outputs: [1] }, data: [all] },
        { tensors: [int8Tensor([256], ...inQ), int8Tensor([256], ...outQ)], op: { code: BuiltinOperator.RELU6, inputs: [0], outputs: [1] }, data: [all] },
      );
    }
    const results = await compare(cases);
    results.forEach(({ mine, theirs }, i) => {
      expect(mine, `case ${i}: operator code ${cases[i].op.code}, tensors ${JSON.stringify(cases[i].tensors.map((t) => [t.shape, t.quant]))}`).toEqual(theirs);
    });
  });

  it('MEAN in tflite numerics agrees bit for bit on all three of the interpreter\'s paths', async () => {
    const rand = seededInts(1414);
    const cases: Case[] = [];
    for (let k = 0; k < 48; k++) {
      const keepDims = k % 2 === 1;
      const sameQuant = k % 4 < 2;
      // wide channels on some cases (a 7x7 global average over many channels), small ones on the rest
      const [n, h, w, c] = k % 8 < 2 ? [1, 7, 7, rand(64, 320)] : [rand(1, 2), rand(1, 10), rand(1, 10), rand(1, 24)];
      const inQ: [number, number] = [randomScale(rand), rand(-128, 127)];
      const outQ: [number, number] = sameQuant ? inQ : [randomScale(rand), rand(-128, 127)];
      cases.push({
        tensors: [int8Tensor([n, h, w, c], ...inQ), int32Const([2], [1, 2]), int8Tensor(keepDims ? [n, 1, 1, c] : [n, c], ...outQ)],
        op: { code: BuiltinOperator.MEAN, inputs: [0, 1], outputs: [2], options: { type: BuiltinOptionsType.ReducerOptions, schema: ReducerOptionsTable, fields: { keep_dims: { bool: keepDims } } } },
        data: [randomInt8(rand, n * h * w * c)],
      });
    }
    const results = await compare(cases);
    results.forEach((r, i) => {
      expect(r.mine, `case ${i}: ${JSON.stringify(cases[i].tensors.map((t) => [t.shape, t.quant]))} keep_dims ${JSON.stringify(cases[i].op.options?.fields)}`).toEqual(r.theirs);
    });
  });
});
