/**
 * Patch-based execution of the early stage (as MCUNetV2 and the paper's engine do): the first operators
 * of a network, where activations are largest, run once per spatial patch of the stage's output, each
 * patch computing just the rows and columns it needs (with the halo its filters read), so only a
 * patch's activations are live at a time. The stage's output is assembled in full; the rest of the
 * network runs as before. Results are identical: the kernels are the same, only their windows change.
 *
 * Works on lowered calls: each stage call is cloned per patch with local dims and paddings (a kernel
 * treats taps outside its input as padding, so a patch at the image border keeps the real padding,
 * and an inner patch gets none and reads its halo instead). Clones share the original's constants.
 * Each clone and window copy is marked with its patch: the generated C runs the patches as one loop
 * (src/plan/patch_loop.ts), not a statement per clone.
 */
import { elementCount, type Graph, type Operator, type OpOf, type Tensor } from '../ir/graph.ts';
import { activationInputs as activationSlots, inputOf, traitsOf } from '../ir/operator_traits.ts';
import type { KernelArg, KernelCall } from '../lower/kernel_call.ts';
import { type CStruct, withFields } from '../lower/params_structs.ts';
import { constantValues } from '../ir/tensor_data.ts';
import { oneOf } from '../util/option_values.ts';

/**
 * Patch-based execution of the early stage: 'auto' takes the layout (stage end and grid) with the
 * smallest arena (the larger of the inference and training schedules), 'fit' the one that recomputes
 * the fewest MACs among those whose build fits the SRAM budget (the target's SRAM, or the scheme
 * search's budget; the smallest arena when none fits), 'off' runs the stage whole. Either way, among
 * layouts as good, the fewest recomputed MACs win (running whole recomputes none). The default is
 * 'auto' with a training scheme (the forward pass must not dominate the training step's memory) and
 * 'off' for inference only, whose figures stay comparable with TensorFlow Lite Micro's.
 */
export type PatchMode = 'auto' | 'fit' | 'off';
export const PATCH_MODES: readonly PatchMode[] = ['auto', 'fit', 'off'];

/** The patch mode named by `value` (undefined: the default for `training`); anything else fails, naming the choices. */
export function parsePatchMode(value: unknown, training: boolean, what = 'patches'): PatchMode {
  return value === undefined ? (training ? 'auto' : 'off') : oneOf(value, PATCH_MODES, what);
}

interface Region { y0: number; y1: number; x0: number; x1: number }

export interface PatchStage {
  /** Operator ids run patch by patch, the stage's input and output tensors, the grid (grid x grid patches). */
  ops: number[];
  input: number;
  output: number;
  grid: number;
  /** MACs added by recomputing the halos (0 without overlap), and the whole forward pass's MACs without patches. */
  extraMacs: number;
  forwardMacs: number;
}

/** What the patches cost: recomputed MACs as a fraction of the unpatched forward pass. */
export const extraMacsShare = (s: Pick<PatchStage, 'extraMacs' | 'forwardMacs'>): number => (s.forwardMacs > 0 ? s.extraMacs / s.forwardMacs : 0);

/** One line for reports: which operators run as patches and the MACs their halos add. */
export function describePatchStage(s: Pick<PatchStage, 'ops' | 'grid' | 'extraMacs' | 'forwardMacs'>): string {
  return `the first ${s.ops.length} operators as ${s.grid}x${s.grid} patches, recomputing ${s.extraMacs.toLocaleString('en-US')} MACs in their halos ` +
    `(+${(extraMacsShare(s) * 100).toFixed(2)}% of the forward pass's ${s.forwardMacs.toLocaleString('en-US')})`;
}

export interface PatchedSchedule {
  /** The graph with the patch buffers appended (every original tensor keeps its id). */
  graph: Graph;
  /** The calls to run, in order: per patch, window copies and the cloned stage calls; then the rest. */
  schedule: KernelCall[];
  stage: PatchStage;
}

/** Prefixes of the schedule that can run patch by patch: index of their last call, shortest first. */
export function stageCandidates(graph: Graph, calls: KernelCall[]): number[] {
  const out: number[] = [];
  for (let end = 0; end < calls.length; end++) {
    const call = calls[end];
    const op = graph.operators[call.op];
    if (!traitsOf(op.kind).local || !call.fn || call.tensors) break;
    if (end >= 1 && isValidStage(graph, calls, end)) out.push(end);
  }
  return out;
}

function isValidStage(graph: Graph, calls: KernelCall[], end: number): boolean {
  const ops = calls.slice(0, end + 1).map((c) => graph.operators[c.op]);
  const produced = new Set(ops.flatMap((op) => op.outputs));
  const output = ops[ops.length - 1].outputs[0];
  const outside = [...calls.slice(end + 1).map((c) => graph.operators[c.op].inputs), graph.outputs].flat();
  if ([...produced].some((t) => t !== output && outside.includes(t))) return false;
  const inputs = new Set(ops.flatMap((op) => activationInputs(graph, op)).filter((t) => !produced.has(t)));
  const out = graph.tensors[output];
  return inputs.size === 1 && out.shape.length === 4 && [...inputs].every((t) => graph.tensors[t].shape.length === 4);
}

/** The activations an operator reads at run time (constant operands are no window's business). */
const activationInputs = (graph: Graph, op: Operator): number[] => activationSlots(op).filter((t) => !graph.tensors[t].data);

/** Splits [0, size) into n nearly equal bands. */
function bands(size: number, n: number): [number, number][] {
  return Array.from({ length: n }, (_, i) => [Math.floor((i * size) / n), Math.floor(((i + 1) * size) / n)] as [number, number]);
}

/** The top or left padding in a windowed call's parameter struct. */
const field = (call: KernelCall, name: 'pad_h' | 'pad_w'): number => {
  const fields = call.structs[0]?.fields;
  if (!fields || !('pad_h' in fields)) throw new Error(`call op${call.op} has no field ${name}`);
  return fields[name];
};

/** Rows (or columns) of the input one output window [a, b) reads, clamped to the input. */
function inputSpan(a: number, b: number, stride: number, pad: number, filter: number, dilation: number, size: number): [number, number] {
  return [Math.max(0, a * stride - pad), Math.min(size, (b - 1) * stride - pad + (filter - 1) * dilation + 1)];
}

interface Geometry { strideH: number; strideW: number; padH: number; padW: number; filterH: number; filterW: number; dilationH: number; dilationW: number }

function geometry(graph: Graph, call: KernelCall, op: Operator): Geometry | null {
  switch (op.kind) {
    case 'CONV_2D':
    case 'DEPTHWISE_CONV_2D': {
      const f = graph.tensors[inputOf(op, 'weights')].shape;
      return { strideH: op.options.strideH, strideW: op.options.strideW, padH: field(call, 'pad_h'), padW: field(call, 'pad_w'),
        filterH: f[1], filterW: f[2], dilationH: op.options.dilationH, dilationW: op.options.dilationW };
    }
    case 'AVERAGE_POOL_2D':
    case 'MAX_POOL_2D':
      return { strideH: op.options.strideH, strideW: op.options.strideW, padH: field(call, 'pad_h'), padW: field(call, 'pad_w'),
        filterH: op.options.filterH, filterW: op.options.filterW, dilationH: 1, dilationW: 1 };
    default:
      return null;
  }
}

/** The PAD's leading amounts along H and W (its constant paddings input, NHWC). */
function padBefore(graph: Graph, op: OpOf<'PAD'>): [number, number] {
  const v = Array.from(constantValues(graph.tensors[inputOf(op, 'paddings')]), Number);
  const rank = v.length / 2; // lower ranks are NHWC with leading dimensions dropped
  const at = (dim: number) => (dim - (4 - rank) >= 0 ? v[2 * (dim - (4 - rank))] : 0);
  return [at(1), at(2)];
}

/** The input window an operator reads for an output window. */
function inputRegion(graph: Graph, call: KernelCall, op: Operator, out: Region, input: Tensor): Region {
  const [, h, w] = input.shape;
  const g = geometry(graph, call, op);
  if (g) {
    const [y0, y1] = inputSpan(out.y0, out.y1, g.strideH, g.padH, g.filterH, g.dilationH, h);
    const [x0, x1] = inputSpan(out.x0, out.x1, g.strideW, g.padW, g.filterW, g.dilationW, w);
    return { y0, y1, x0, x1 };
  }
  if (op.kind === 'PAD') {
    const [ph, pw] = padBefore(graph, op);
    const c = (v: number, size: number) => Math.min(size, Math.max(0, v));
    return { y0: c(out.y0 - ph, h), y1: c(out.y1 - ph, h), x0: c(out.x0 - pw, w), x1: c(out.x1 - pw, w) };
  }
  if (op.kind === 'ADD') return { ...out }; // elementwise
  throw new Error(`${op.kind} is local in ir/operator_traits.ts, but the patch stage has no input window for it`);
}

/** Grids tried by bestPatchedSchedule: 2x2 up to 8x8 patches. */
export const PATCH_GRIDS = [2, 3, 4, 5, 6, 8];

/** Every patch layout of the stages `allowed` admits (stage end x grid), fewest recomputed MACs first. */
export function patchLayouts(graph: Graph, calls: KernelCall[], allowed: (end: number) => boolean = () => true): PatchedSchedule[] {
  const layouts = stageCandidates(graph, calls).filter(allowed).flatMap((end) => PATCH_GRIDS.map((grid) => patchStage(graph, calls, end, grid)));
  // A stable sort: layouts that recompute as much keep the order of shorter stage, coarser grid.
  return layouts.filter((p) => p !== null).sort((a, b) => a.stage.extraMacs - b.stage.extraMacs);
}

/**
 * The unpatched schedule (null) or a patched one, tried in order of recomputed MACs (the unpatched
 * first): with a `limit`, the first whose `cost` (the arena the caller cares about) is within it;
 * otherwise, or when none is, the one of lowest cost, the fewest MACs among equals.
 */
export function bestPatchedSchedule(graph: Graph, calls: KernelCall[], cost: (p: PatchedSchedule | null) => number,
  opts: { allowed?: (end: number) => boolean; limit?: number } = {}): PatchedSchedule | null {
  let best: PatchedSchedule | null = null;
  let bestCost = Infinity;
  for (const p of [null, ...patchLayouts(graph, calls, opts.allowed)]) {
    const c = cost(p);
    if (opts.limit !== undefined && c <= opts.limit) return p;
    if (c < bestCost) {
      best = p;
      bestCost = c;
    }
  }
  return best;
}

const union = (a: Region | undefined, b: Region): Region =>
  a ? { y0: Math.min(a.y0, b.y0), y1: Math.max(a.y1, b.y1), x0: Math.min(a.x0, b.x0), x1: Math.max(a.x1, b.x1) } : { ...b };
const sameRegion = (a: Region, b: Region) => a.y0 === b.y0 && a.y1 === b.y1 && a.x0 === b.x0 && a.x1 === b.x1;
const area = (r: Region) => (r.y1 - r.y0) * (r.x1 - r.x0);

/** The schedule with calls[0..end] run patch by patch on a grid x grid split of the stage output; null if the split is impossible. */
export function patchStage(base: Graph, calls: KernelCall[], end: number, grid: number): PatchedSchedule | null {
  const stageCalls = calls.slice(0, end + 1);
  const stageOps = stageCalls.map((c) => base.operators[c.op]);
  const produced = new Set(stageOps.flatMap((op) => op.outputs));
  const output = stageOps[stageOps.length - 1].outputs[0];
  const input = stageOps.flatMap((op) => activationInputs(base, op)).find((t) => !produced.has(t))!;
  const outT = base.tensors[output];
  const [, outH, outW] = outT.shape;
  if (outH < grid || outW < grid) return null;

  const tensors = [...base.tensors];
  const graph: Graph = { ...base, tensors };
  const schedule: KernelCall[] = [];
  let extraMacs = 0;
  let k = 0; // the patch being scheduled
  const newTensor = (like: Tensor, r: Region, label: string): number => {
    const id = tensors.length;
    tensors.push({ id, name: `${like.name}@${label}`, dtype: like.dtype, shape: [like.shape[0], r.y1 - r.y0, r.x1 - r.x0, like.shape[3]], quant: like.quant });
    return id;
  };
  const copy = (op: number, name: string, src: number, srcR: Region, dst: number, dstR: Region, region: Region): KernelCall => ({
    op, name, fn: WINDOW_COPY, consts: [], structs: [], scratchBytes: 0, macs: 0, patch: k,
    args: [
      { kind: 'tensor', tensor: src }, { kind: 'dims', values: dims4(tensors[src]) }, { kind: 'int', value: region.y0 - srcR.y0 }, { kind: 'int', value: region.x0 - srcR.x0 },
      { kind: 'tensor', tensor: dst }, { kind: 'dims', values: dims4(tensors[dst]) }, { kind: 'int', value: region.y0 - dstR.y0 }, { kind: 'int', value: region.x0 - dstR.x0 },
      { kind: 'int', value: region.y1 - region.y0 }, { kind: 'int', value: region.x1 - region.x0 },
    ],
    tensors: { inputs: [src], outputs: [dst] },
  });
  const full = (t: number): Region => ({ y0: 0, y1: tensors[t].shape[1], x0: 0, x1: tensors[t].shape[2] });

  for (const [py0, py1] of bands(outH, grid)) {
    for (const [px0, px1] of bands(outW, grid)) {
      const label = `p${k}`;
      // Backward: the window of every stage tensor this patch needs.
      const need = new Map<number, Region>([[output, { y0: py0, y1: py1, x0: px0, x1: px1 }]]);
      const reads = new Map<number, Map<number, Region>>(); // op index -> input tensor -> window read
      for (let i = stageCalls.length - 1; i >= 0; i--) {
        const op = stageOps[i];
        const out = need.get(op.outputs[0]);
        if (!out) continue;
        const r = new Map<number, Region>();
        for (const t of activationInputs(base, op)) {
          const region = inputRegion(base, stageCalls[i], op, out, base.tensors[t]);
          if (area(region) === 0) return null;
          r.set(t, region);
          need.set(t, union(need.get(t), region));
        }
        reads.set(i, r);
      }
      // Forward: one buffer per stage tensor holding its window; a consumer that reads a smaller
      // window than the buffer holds (a branch) gets an exact copy, since kernels read dense tensors.
      const buffer = new Map<number, { id: number; region: Region }>();
      buffer.set(input, { id: input, region: full(input) });
      stageCalls.forEach((call, i) => {
        const op = stageOps[i];
        const out = need.get(op.outputs[0]);
        if (!out) return;
        const localIn = new Map<number, number>();
        for (const [t, region] of reads.get(i)!) {
          const held = buffer.get(t)!;
          if (sameRegion(held.region, region)) { localIn.set(t, held.id); continue; }
          const exact = newTensor(base.tensors[t], region, `${label}.op${op.id}`);
          schedule.push(copy(op.id, `${label}_op${op.id}_in${localIn.size}`, held.id, held.region, exact, region, region));
          localIn.set(t, exact);
        }
        const outId = newTensor(base.tensors[op.outputs[0]], out, label);
        buffer.set(op.outputs[0], { id: outId, region: out });
        const clone = { ...cloneCall(base, call, op, `${label}_op${op.id}`, localIn, outId, out, reads.get(i)!, tensors), patch: k };
        extraMacs += clone.macs;
        schedule.push(clone);
      });
      const last = buffer.get(output)!;
      schedule.push(copy(stageOps[stageOps.length - 1].id, `${label}_paste`, last.id, last.region, output, full(output), last.region));
      k++;
    }
  }
  extraMacs -= stageCalls.reduce((s, c) => s + c.macs, 0);
  return {
    graph,
    schedule: [...schedule, ...calls.slice(end + 1)],
    stage: { ops: stageOps.map((op) => op.id), input, output, grid, extraMacs, forwardMacs: calls.reduce((s, c) => s + c.macs, 0) },
  };
}

/** The kernel of window copies: (src, src dims, src y, src x, dst, dst dims, dst y, dst x, rows, columns). */
export const WINDOW_COPY = 'mt_copy_region_s8';

/** Window copy `copy` with an empty window: it copies nothing, standing in for a copy one patch does not need. */
export function emptyWindowCopy(copy: KernelCall): KernelCall {
  if (copy.fn !== WINDOW_COPY) throw new Error(`${copy.name ?? copy.op} is not a window copy`);
  return { ...copy, args: [...copy.args.slice(0, -2), { kind: 'int', value: 0 }, { kind: 'int', value: 0 }] };
}

const dims4 = (t: Tensor): number[] => [1, 1, 1, 1, ...t.shape].slice(-4);

/** A stage call on windows: local dims, local paddings, patch buffers; the original's constants by name. */
function cloneCall(graph: Graph, call: KernelCall, op: Operator, name: string, localIn: Map<number, number>, outId: number,
  out: Region, reads: Map<number, Region>, tensors: Tensor[]): KernelCall {
  const main = reads.get(activationInputs(graph, op)[0])!;
  const g = geometry(graph, call, op);
  const structs = call.structs.map((s): CStruct => {
    switch (s.ctype) {
      case 'mt_conv_params':
      case 'mt_depthwise_conv_params':
      case 'mt_pooling_params':
        return g ? withFields(s, { pad_h: g.padH + main.y0 - out.y0 * g.strideH, pad_w: g.padW + main.x0 - out.x0 * g.strideW }) : s;
      case 'mt_add_params':
        return withFields(s, { size: elementCount(tensors[outId].shape) });
      case 'mt_pad_params': {
        const pad = op as OpOf<'PAD'>; // only PAD lowers to mt_pad_params
        const [ph, pw] = padBefore(graph, pad);
        const [, inH, inW] = graph.tensors[inputOf(pad, 'input')].shape;
        // Only H and W are windowed: the original's batch and channel padding stay.
        const { before, after } = s.fields;
        return withFields(s, {
          before: { ...before, h: Math.max(0, ph - out.y0), w: Math.max(0, pw - out.x0) },
          after: { ...after, h: Math.max(0, out.y1 - ph - inH), w: Math.max(0, out.x1 - pw - inW) },
        });
      }
      default:
        return s;
    }
  });
  const args: KernelArg[] = call.args.map((a, i) => {
    const nextTensor = call.args[i + 1];
    if (a.kind === 'tensor') {
      if (localIn.has(a.tensor)) return { kind: 'tensor', tensor: localIn.get(a.tensor)! };
      if (a.tensor === op.outputs[0]) return { kind: 'tensor', tensor: outId };
      return a;
    }
    // A dims argument describes the tensor argument after it; the filter's dims stay as they are.
    if (a.kind === 'dims' && nextTensor?.kind === 'tensor') {
      const local = localIn.get(nextTensor.tensor) ?? (nextTensor.tensor === op.outputs[0] ? outId : undefined);
      return local !== undefined ? { kind: 'dims', values: dims4(tensors[local]) } : a;
    }
    if (a.kind === 'const') return { ...a, owner: call.op }; // the original's constants, shared by every patch
    return a;
  });
  const fullOut = graph.tensors[op.outputs[0]];
  const fullArea = fullOut.shape[1] * fullOut.shape[2];
  return {
    ...call, name, args, structs, consts: [],
    macs: Math.round(call.macs * area(out) / fullArea),
    tensors: { inputs: [...localIn.values(), ...op.inputs.filter((t) => t >= 0 && graph.tensors[t].data !== undefined)], outputs: [outId] },
  };
}
