/**
 * Kernel cases for the harnesses' "run" mode: random cases, cases built from a lowered KernelCall
 * (so a test runs exactly what the lowering would make the firmware run), and the encoders that
 * flatten a case into the integers each harness reads, in its order.
 */
import type { KernelCall } from '../../src/lower/kernel_call.ts';
import type { Graph } from '../../src/ir/graph.ts';
import { constantValues } from '../../src/ir/tensor_data.ts';
import { type AddCase, type ConvCase, type Dims, type FcCase, type PoolCase, type Rounding, ROUNDING_CODE } from './int8_reference.ts';

type Rand = (lo: number, hi: number) => number;
const ints = (rand: Rand, n: number, lo: number, hi: number) => Array.from({ length: n }, () => rand(lo, hi));
const count = (d: Dims) => d[0] * d[1] * d[2] * d[3];

/** A multiplier/shift that maps an accumulator of about `typical` to about 30, jittered so values also clamp. */
function requant(rand: Rand, typical: number): [number, number] {
  const shift = Math.ceil(Math.log2(30 / Math.max(typical, 1))) + rand(-1, 1);
  return [rand(2 ** 30, 2 ** 31 - 1), shift];
}

/**
 * A random convolution (depthwise when `depthwise`): shapes, strides, dilations, paddings up to a
 * whole dilated filter, windows that hang over every border, input offsets over the whole int8
 * range, optional bias, fused clamps.
 */
export function randomConvCase(rand: Rand, depthwise: boolean): ConvCase {
  // Sizes are kept so that about half the outputs land inside the clamp range.
  const groups = depthwise ? 1 : rand(1, 2);
  const inC = depthwise ? rand(1, 4) : groups * rand(1, 3);
  const depthMultiplier = depthwise ? rand(1, 3) : 1;
  const outC = depthwise ? inC * depthMultiplier : groups * rand(1, 3);
  const inDims: Dims = [rand(1, 2), rand(1, 7), rand(1, 7), inC];
  const filterDims: Dims = depthwise ? [1, rand(1, 3), rand(1, 3), outC] : [outC, rand(1, 3), rand(1, 3), inC / groups];
  const strideH = rand(1, 3), strideW = rand(1, 3), dilationH = rand(1, 2), dilationW = rand(1, 2);
  const reachH = (filterDims[1] - 1) * dilationH + 1, reachW = (filterDims[2] - 1) * dilationW + 1;
  const padH = rand(0, reachH - 1), padW = rand(0, reachW - 1);
  const outH = Math.max(1, Math.floor((inDims[1] + padH + rand(0, reachH - 1) - reachH) / strideH) + 1);
  const outW = Math.max(1, Math.floor((inDims[2] + padW + rand(0, reachW - 1) - reachW) / strideW) + 1);
  const outDims: Dims = [inDims[0], outH, outW, outC];
  const taps = filterDims[1] * filterDims[2] * (depthwise ? 1 : filterDims[3]);
  const fullRange = rand(0, 1) === 1;
  const typical = Math.round(Math.sqrt(taps) * 128 * 74);
  const mults: number[] = [], shifts: number[] = [];
  for (let c = 0; c < outC; c++) {
    const [m, s] = requant(rand, typical);
    mults.push(m);
    // now and then a left shift, whose int32 wrap-around TFLite defines
    shifts.push(rand(0, 30) === 0 ? rand(1, 2) : s);
  }
  return {
    strideH, strideW, dilationH, dilationW, padH, padW,
    inputOffset: -rand(-128, 127),
    depthMultiplier,
    outputOffset: rand(0, 3) === 0 ? rand(-128, 127) : rand(-40, 40),
    actMin: fullRange ? -128 : rand(-128, -20),
    actMax: fullRange ? 127 : rand(20, 127),
    // depthwise always rounds twice; conv takes either
    rounding: depthwise || rand(0, 1) === 0 ? 'double' : 'single',
    inDims, filterDims, outDims,
    input: ints(rand, count(inDims), -128, 127),
    filter: ints(rand, count(filterDims), -128, 127),
    bias: rand(0, 4) === 0 ? null : ints(rand, outC, -2 * typical, 2 * typical),
    mult: mults,
    shift: shifts,
  };
}

/** The integers of one case in the order the conv / depthwise harness "run" mode reads them. */
export function encodeConvCase(k: ConvCase, depthwise: boolean): number[] {
  return [
    k.strideH, k.strideW, k.dilationH, k.dilationW, k.padH, k.padW,
    ...(depthwise ? [k.depthMultiplier] : []),
    k.inputOffset, k.outputOffset, k.actMin, k.actMax,
    ...(depthwise ? [] : [ROUNDING_CODE[k.rounding ?? 'double']]),
    ...k.inDims, ...k.filterDims, ...k.outDims,
    k.bias ? 1 : 0,
    ...k.input, ...k.filter, ...(k.bias ?? []), ...k.mult, ...k.shift,
  ];
}

/** The numeric fields of a lowered call's parameter struct, by name. */
function numericFields(call: KernelCall): Record<string, number> {
  return Object.fromEntries(Object.entries(call.structs[0].fields).filter(([, v]) => typeof v === 'number'));
}

function roundingOf(call: KernelCall): Rounding {
  const fields: Record<string, unknown> = call.structs[0].fields;
  return fields.rounding === 'MT_ROUND_SINGLE' ? 'single' : 'double';
}

const dimsArgs = (call: KernelCall) => call.args.filter((a) => a.kind === 'dims').map((a) => a.values as Dims);
const constArg = (call: KernelCall, name: string) => Array.from(call.consts.find((x) => x.name === name)!.values);

/** A case from a lowered call (arguments as mt_conv_s8 / mt_depthwise_conv_s8 take them) and an input. */
export function convCaseFromCall(graph: Graph, call: KernelCall, input: number[]): ConvCase {
  const f = numericFields(call);
  const dims = dimsArgs(call);
  const tensorArgs = call.args.filter((a) => a.kind === 'tensor').map((a) => graph.tensors[a.tensor]);
  const [, filter, maybeBias] = tensorArgs;
  const bias = maybeBias && maybeBias.dtype === 'int32' ? Array.from(constantValues(maybeBias)) : null;
  return {
    strideH: f.stride_h, strideW: f.stride_w, dilationH: f.dilation_h, dilationW: f.dilation_w, padH: f.pad_h, padW: f.pad_w,
    inputOffset: f.input_offset, depthMultiplier: f.depth_multiplier ?? 1,
    outputOffset: f.output_offset, actMin: f.act_min, actMax: f.act_max, rounding: roundingOf(call),
    inDims: dims[0], filterDims: dims[1], outDims: dims[2],
    input, filter: Array.from(constantValues(filter)), bias, mult: constArg(call, 'mult'), shift: constArg(call, 'shift'),
  };
}

export function encodeFcCase(k: FcCase): number[] {
  return [
    k.batches, k.accumDepth, k.outputDepth, k.inputOffset, k.filterOffset, k.outputOffset, k.actMin, k.actMax,
    ROUNDING_CODE[k.rounding ?? 'double'], k.bias ? 1 : 0, ...k.input, ...k.filter, ...(k.bias ?? []), ...k.mult, ...k.shift,
  ];
}

/** A case from a lowered mt_fully_connected_s8 call and an input. */
export function fcCaseFromCall(graph: Graph, call: KernelCall, input: number[]): FcCase {
  const f = numericFields(call);
  const [, filter, maybeBias] = call.args.filter((a) => a.kind === 'tensor').map((a) => graph.tensors[a.tensor]);
  return {
    batches: f.batches, accumDepth: f.accum_depth, outputDepth: f.output_depth,
    inputOffset: f.input_offset, filterOffset: f.filter_offset, outputOffset: f.output_offset,
    actMin: f.act_min, actMax: f.act_max, rounding: roundingOf(call),
    input, filter: Array.from(constantValues(filter)),
    bias: maybeBias && maybeBias.dtype === 'int32' ? Array.from(constantValues(maybeBias)) : null,
    mult: constArg(call, 'mult'), shift: constArg(call, 'shift'),
  };
}

export function encodePoolCase(k: PoolCase): number[] {
  return [k.max ? 1 : 0, k.strideH, k.strideW, k.filterH, k.filterW, k.padH, k.padW, k.actMin, k.actMax, ...k.inDims, ...k.outDims, ...k.input];
}

/** A case from a lowered mt_avg_pool_s8 / mt_max_pool_s8 call and an input. */
export function poolCaseFromCall(call: KernelCall, input: number[]): PoolCase {
  const f = numericFields(call);
  const [inDims, outDims] = dimsArgs(call);
  return {
    max: call.fn === 'mt_max_pool_s8', strideH: f.stride_h, strideW: f.stride_w, filterH: f.filter_h, filterW: f.filter_w,
    padH: f.pad_h, padW: f.pad_w, actMin: f.act_min, actMax: f.act_max, inDims, outDims, input,
  };
}

export function encodeAddCase(k: AddCase): number[] {
  return [
    k.a.length, k.input1Offset, k.input2Offset, k.outputOffset, k.leftShift,
    k.input1Mult, k.input1Shift, k.input2Mult, k.input2Shift, k.outputMult, k.outputShift, k.actMin, k.actMax,
    ...k.a, ...k.b,
  ];
}

/** A case from a lowered mt_add_s8 call and its two inputs. */
export function addCaseFromCall(call: KernelCall, a: number[], b: number[]): AddCase {
  const f = numericFields(call);
  return {
    input1Offset: f.input1_offset, input2Offset: f.input2_offset, outputOffset: f.output_offset, leftShift: f.left_shift,
    input1Mult: f.input1_mult, input1Shift: f.input1_shift, input2Mult: f.input2_mult, input2Shift: f.input2_shift,
    outputMult: f.output_mult, outputShift: f.output_shift, actMin: f.act_min, actMax: f.act_max, a, b,
  };
}
