/**
 * Pass `planMemory`: places every activation (and each call's scratch space) at a fixed offset in one
 * static arena, from the lifetimes given by the schedule. Buffers whose lifetimes overlap never
 * overlap in memory; the device therefore needs no allocator at all.
 */
import type { Graph } from '../ir/graph.ts';
import { isConstant, tensorBytes } from '../ir/graph.ts';
import type { KernelCall } from '../lower/kernel_call.ts';

/** Offsets are multiples of this, so any kernel may use word (and later SIMD) loads. */
export const ARENA_ALIGN = 16;

export interface Buffer {
  /** Tensor ids stored here (several when operators alias, e.g. RESHAPE), or empty for scratch. */
  tensors: number[];
  /** Set for the scratch buffer of one call. */
  scratchOf?: number;
  bytes: number;
  /** First and last schedule step (inclusive) during which the buffer holds live data. Step -1 = before the first call. */
  firstStep: number;
  lastStep: number;
  offset: number;
}

export interface MemoryPlan {
  buffers: Buffer[];
  /** tensor id -> offset in the arena (activations only; constants live in Flash). */
  tensorOffset: Map<number, number>;
  /** call index -> offset of its scratch buffer. */
  scratchOffset: Map<number, number>;
  arenaBytes: number;
  /** The most bytes live at any one step: no placement can use less. */
  lowerBoundBytes: number;
  /** Step at which lowerBoundBytes is reached. */
  peakStep: number;
}

const alignUp = (n: number) => Math.ceil(n / ARENA_ALIGN) * ARENA_ALIGN;

/** Tensors live before the first call (written by the caller) and after the last (read by it). */
export interface Boundary {
  liveIn: readonly number[];
  liveOut: readonly number[];
}

export function planMemory(graph: Graph, calls: KernelCall[], boundary: Boundary = { liveIn: graph.inputs, liveOut: graph.outputs }): MemoryPlan {
  const buffers = collectBuffers(graph, calls, boundary);
  placeBest(buffers);

  const tensorOffset = new Map<number, number>();
  const scratchOffset = new Map<number, number>();
  for (const b of buffers) {
    for (const t of b.tensors) tensorOffset.set(t, b.offset);
    if (b.scratchOf !== undefined) scratchOffset.set(b.scratchOf, b.offset);
  }
  const arenaBytes = buffers.reduce((m, b) => Math.max(m, b.offset + alignUp(b.bytes)), 0);
  const { bytes: lowerBoundBytes, step: peakStep } = peakLiveBytes(buffers, calls.length);
  return { buffers, tensorOffset, scratchOffset, arenaBytes, lowerBoundBytes, peakStep };
}

/** One buffer per group of aliased activation tensors, plus one per call that needs scratch. */
function collectBuffers(graph: Graph, calls: KernelCall[], boundary: Boundary): Buffer[] {
  // Union aliased tensors (an alias output shares its input's memory).
  const root = new Map<number, number>();
  const find = (t: number): number => {
    let r = t;
    while (root.has(r) && root.get(r) !== r) r = root.get(r)!;
    return r;
  };
  for (const call of calls) for (const a of call.aliases ?? []) root.set(find(a.output), find(a.input));

  const byRoot = new Map<number, Buffer>();
  const touch = (tensor: number, step: number) => {
    const t = graph.tensors[tensor];
    if (!t || isConstant(t)) return;
    const r = find(tensor);
    let b = byRoot.get(r);
    if (!b) {
      b = { tensors: [], bytes: 0, firstStep: step, lastStep: step, offset: 0 };
      byRoot.set(r, b);
    }
    if (!b.tensors.includes(tensor)) b.tensors.push(tensor);
    b.bytes = Math.max(b.bytes, tensorBytes(t));
    b.firstStep = Math.min(b.firstStep, step);
    b.lastStep = Math.max(b.lastStep, step);
  };

  const last = calls.length; // graph outputs stay readable after the last call
  for (const t of boundary.liveIn) touch(t, -1);
  calls.forEach((call, step) => {
    const { inputs, outputs } = call.tensors ?? graph.operators[call.op];
    for (const t of inputs) if (t >= 0) touch(t, step);
    for (const t of outputs) touch(t, step);
  });
  for (const t of boundary.liveOut) touch(t, last);

  const scratch: Buffer[] = calls.flatMap((call, step) =>
    call.scratchBytes > 0 ? [{ tensors: [], scratchOf: step, bytes: call.scratchBytes, firstStep: step, lastStep: step, offset: 0 }] : []);
  return [...byRoot.values(), ...scratch];
}

const overlapsInTime = (a: Buffer, b: Buffer) => a.firstStep <= b.lastStep && b.firstStep <= a.lastStep;

/** Orders in which buffers are placed; no single one is best for every graph, so all are tried. */
const PLACEMENT_ORDERS: ((a: Buffer, b: Buffer) => number)[] = [
  (a, b) => b.bytes - a.bytes || a.firstStep - b.firstStep, // TFLite Micro's greedy planner
  (a, b) => b.bytes * (b.lastStep - b.firstStep + 1) - a.bytes * (a.lastStep - a.firstStep + 1) || b.bytes - a.bytes,
  (a, b) => a.firstStep - b.firstStep || b.bytes - a.bytes,
  (a, b) => (b.lastStep - b.firstStep) - (a.lastStep - a.firstStep) || b.bytes - a.bytes,
];

/** Places the buffers with every order and keeps the smallest arena (ties: the first order). */
function placeBest(buffers: Buffer[]): void {
  let best: number[] | undefined;
  let bestSize = Infinity;
  for (const order of PLACEMENT_ORDERS) {
    const size = placeFirstFit([...buffers].sort(order));
    if (size < bestSize) {
      bestSize = size;
      best = buffers.map((b) => b.offset);
    }
  }
  buffers.forEach((b, i) => { b.offset = best![i]; });
}

/**
 * Each buffer in turn at the lowest offset where it fits between the buffers already placed that
 * are alive at the same time. Returns the arena size.
 */
function placeFirstFit(order: Buffer[]): number {
  const placed: Buffer[] = [];
  let size = 0;
  for (const b of order) {
    const conflicts = placed.filter((p) => overlapsInTime(p, b)).sort((x, y) => x.offset - y.offset);
    let offset = 0;
    for (const c of conflicts) {
      if (offset + alignUp(b.bytes) <= c.offset) break;
      offset = Math.max(offset, c.offset + alignUp(c.bytes));
    }
    b.offset = offset;
    placed.push(b);
    size = Math.max(size, offset + alignUp(b.bytes));
  }
  return size;
}

function peakLiveBytes(buffers: Buffer[], steps: number): { bytes: number; step: number } {
  let best = { bytes: 0, step: 0 };
  for (let s = -1; s <= steps; s++) {
    const live = buffers.reduce((sum, b) => (b.firstStep <= s && s <= b.lastStep ? sum + alignUp(b.bytes) : sum), 0);
    if (live > best.bytes) best = { bytes: live, step: s };
  }
  return best;
}
