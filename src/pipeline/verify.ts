/**
 * Checks of the IR between passes, for tests and debugging (MCUTRAIN_VERIFY=1, or the pipeline's
 * `verify` option; off by default so the CLI pays nothing): every tensor a graph or call names exists,
 * every call's arguments resolve (tensors, its constants and structs by name, its scratch), each shape
 * a call is given is the shape of a tensor it reads or writes or of a block within one, aliases join
 * tensors of one size, no activation is read before it is written, and in a memory plan every touched
 * activation is placed, each buffer is large enough and live wherever its tensors are used, and no two
 * buffers live at the same time overlap in the arena. The plan is checked against lifetimes recomputed
 * from the schedule, not against the planner's own bookkeeping alone.
 */
import { elementCount, isConstant, tensorBytes, type Graph } from '../ir/graph.ts';
import type { KernelCall } from '../lower/kernel_call.ts';
import type { MemoryPlan } from '../plan/plan_memory.ts';
import type { Analysis, Lowered, Planned } from './passes.ts';

/** An IR that breaks an invariant: a bug in the pass named, never a user error. */
export class VerifyError extends Error {
  constructor(after: string, problems: string[]) {
    super(`pipeline verifier, after pass ${after}: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`);
    this.name = 'VerifyError';
  }
}

/** Whether the environment asks for verification (the test configuration sets MCUTRAIN_VERIFY=1). */
export const verifyRequested = (): boolean => process.env.MCUTRAIN_VERIFY === '1';

const fail = (after: string, problems: string[]) => {
  if (problems.length > 0) throw new VerifyError(after, problems);
};

/** Problems of the graph: operators and the model's inputs and outputs name tensors that exist, shapes are whole sizes. */
export function graphProblems(graph: Graph): string[] {
  const out: string[] = [];
  const exists = (t: number) => Number.isInteger(t) && t >= 0 && t < graph.tensors.length;
  graph.tensors.forEach((t, id) => {
    if (t.id !== id) out.push(`tensor ${id} (${t.name}) carries id ${t.id}`);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) out.push(`tensor ${id} (${t.name}) has shape [${t.shape.join(',')}]`);
  });
  graph.operators.forEach((op) => {
    for (const t of op.inputs) if (t !== -1 && !exists(t)) out.push(`operator ${op.id} ${op.kind} reads tensor ${t}, which does not exist`);
    for (const t of op.outputs) if (!exists(t)) out.push(`operator ${op.id} ${op.kind} writes tensor ${t}, which does not exist`);
  });
  for (const t of [...graph.inputs, ...graph.outputs]) if (!exists(t)) out.push(`model input or output ${t} does not exist`);
  return out;
}

/** The calls whose constants and structs an argument with an `owner` names (codegen emits a struct only for a scheduled call). */
export interface Owners {
  consts: KernelCall[];
  structs: KernelCall[];
}

/**
 * Problems of a schedule of calls on `graph`: operators and tensors exist, arguments resolve (those with
 * an owner among `owners`), shapes are the call's tensors', aliases keep sizes, reads follow writes.
 */
export function callProblems(graph: Graph, calls: KernelCall[], owners: Owners = { consts: calls, structs: calls },
  liveIn: readonly number[] = graph.inputs): string[] {
  const out: string[] = [];
  const exists = (t: number) => Number.isInteger(t) && t >= 0 && t < graph.tensors.length;
  const written = new Set(liveIn);
  calls.forEach((c, step) => {
    const at = `step ${step} (${c.name ?? `op${c.op}`} ${c.fn ?? 'alias'})`;
    // A call without tensors of its own uses its operator's (the loss names its own and has none).
    const io = c.tensors ?? graph.operators[c.op];
    if (!io) {
      out.push(`${at} belongs to operator ${c.op}, which does not exist`);
      return;
    }
    const { inputs, outputs } = io;
    for (const t of [...inputs.filter((i) => i !== -1), ...outputs]) if (!exists(t)) out.push(`${at} uses tensor ${t}, which does not exist`);
    for (const t of inputs) {
      if (exists(t) && !isConstant(graph.tensors[t]) && !written.has(t)) out.push(`${at} reads ${graph.tensors[t].name} before any call writes it`);
    }
    const argTensors = c.args.flatMap((a) => ('tensor' in a ? [a.tensor] : []));
    const touched = [...inputs, ...outputs, ...argTensors].filter(exists).map((t) => graph.tensors[t]);
    for (const a of c.args) {
      switch (a.kind) {
        case 'tensor': case 'momentum': case 'split_filter':
          if (!exists(a.tensor)) out.push(`${at}: argument names tensor ${a.tensor}, which does not exist`);
          break;
        case 'const': case 'struct': {
          // Without an owner the call defines it; with one, the forward call of that operator (as codegen names it).
          const owner = a.owner === undefined ? c : (a.kind === 'const' ? owners.consts : owners.structs).find((o) => o.op === a.owner && o.name === undefined);
          const what = a.kind === 'const' ? 'constant' : 'struct';
          if (!(a.kind === 'const' ? owner?.consts : owner?.structs)?.some((d) => d.name === a.name)) {
            out.push(a.owner === undefined ? `${at}: argument names ${what} ${a.name}, which the call does not define`
              : `${at}: argument names ${what} ${a.name} of op ${a.owner}, which no emitted call of that operator defines`);
          }
          break;
        }
        case 'scratch':
          if (!(c.scratchBytes > 0)) out.push(`${at}: argument is its scratch buffer, but it asks for none`);
          break;
        case 'dims':
          // A shape the kernel is told is a tensor's it is given (in any layout), or a block of one (a split tensor's trained block).
          if (!touched.some((t) => elementCount(t.shape) === elementCount(a.values) || (t.shape.length === a.values.length && a.values.every((d, i) => d <= t.shape[i])))) {
            out.push(`${at}: dims [${a.values.join(',')}] match no tensor the call reads or writes`);
          }
          break;
        default:
          break;
      }
    }
    for (const a of c.aliases ?? []) {
      if (!exists(a.output) || !exists(a.input)) out.push(`${at}: alias ${a.output} -> ${a.input} names a tensor that does not exist`);
      else if (tensorBytes(graph.tensors[a.output]) !== tensorBytes(graph.tensors[a.input])) {
        out.push(`${at}: alias ${graph.tensors[a.output].name} (${tensorBytes(graph.tensors[a.output])} B) shares the memory of ${graph.tensors[a.input].name} (${tensorBytes(graph.tensors[a.input])} B)`);
      }
    }
    for (const t of outputs) written.add(t);
  });
  return out;
}

/**
 * Problems of `plan` for `calls` on `graph`: an activation a call touches that has no place, a buffer
 * smaller than a tensor in it or not live at a step that uses it, two buffers live at one step that
 * share bytes, a buffer past the arena's end, a call's scratch missing or too small.
 */
export function planProblems(graph: Graph, calls: KernelCall[], plan: MemoryPlan,
  boundary: { liveIn: readonly number[]; liveOut: readonly number[] }): string[] {
  const out: string[] = [];
  const bufferOf = new Map(plan.buffers.flatMap((b) => b.tensors.map((t) => [t, b] as const)));
  const name = (t: number) => graph.tensors[t]?.name ?? `tensor ${t}`;
  const use = (t: number, step: number) => {
    const tensor = graph.tensors[t];
    if (!tensor || isConstant(tensor)) return;
    const b = bufferOf.get(t);
    if (!b || plan.tensorOffset.get(t) !== b.offset) out.push(`${name(t)}, used at step ${step}, has no place in the arena`);
    else if (step < b.firstStep || step > b.lastStep) out.push(`${name(t)} is used at step ${step}, outside its buffer's life (steps ${b.firstStep}..${b.lastStep})`);
  };
  for (const t of boundary.liveIn) use(t, -1);
  calls.forEach((c, step) => {
    const { inputs, outputs } = c.tensors ?? graph.operators[c.op];
    for (const t of [...inputs, ...outputs]) if (t >= 0) use(t, step);
    if (c.scratchBytes > 0) {
      const b = plan.buffers.find((x) => x.scratchOf === step);
      if (!b || b.bytes < c.scratchBytes || plan.scratchOffset.get(step) !== b.offset || b.firstStep > step || b.lastStep < step) {
        out.push(`step ${step} needs ${c.scratchBytes} B of scratch, which the plan does not give it`);
      }
    }
  });
  for (const t of boundary.liveOut) use(t, calls.length);
  for (const b of plan.buffers) {
    for (const t of b.tensors) {
      if (tensorBytes(graph.tensors[t]) > b.bytes) out.push(`${name(t)} (${tensorBytes(graph.tensors[t])} B) is in a buffer of ${b.bytes} B`);
    }
    if (b.offset + b.bytes > plan.arenaBytes) out.push(`a buffer at ${b.offset} of ${b.bytes} B ends past the arena's ${plan.arenaBytes} B`);
  }
  // Sweep by offset: a buffer overlaps in bytes only the ones that start before it ends.
  const byOffset = [...plan.buffers].sort((x, y) => x.offset - y.offset);
  const label = (b: MemoryPlan['buffers'][number]) => (b.scratchOf !== undefined ? `scratch of step ${b.scratchOf}` : b.tensors.map(name).join(' = '));
  byOffset.forEach((a, i) => {
    for (let j = i + 1; j < byOffset.length && byOffset[j].offset < a.offset + a.bytes; j++) {
      const b = byOffset[j];
      if (b.bytes > 0 && a.firstStep <= b.lastStep && b.firstStep <= a.lastStep) {
        out.push(`${label(a)} (${a.offset}..${a.offset + a.bytes}, steps ${a.firstStep}..${a.lastStep}) overlaps ${label(b)} (${b.offset}..${b.offset + b.bytes}, steps ${b.firstStep}..${b.lastStep})`);
      }
    }
  });
  return out;
}

/** Checks the graph after pass import. */
export function verifyGraph(graph: Graph, after: string): void {
  fail(after, graphProblems(graph));
}

/** Checks the calls after pass lower. */
export function verifyLowered(l: Lowered, after: string): void {
  fail(after, callProblems(l.graph, l.calls));
}

/** An analysis defines constants in its calls (one per operator) and structs in those its inference schedule runs. */
export const ownersOf = (p: Planned): Owners => ({ consts: p.calls, structs: p.calls.filter((c) => p.schedule.includes(c)) });

/** Checks the inference schedule and its plan after pass plan. */
export function verifyPlanned(p: Planned, after: string): void {
  fail(after, [...callProblems(p.graph, p.schedule, ownersOf(p)), ...planProblems(p.graph, p.schedule, p.plan, { liveIn: p.graph.inputs, liveOut: p.graph.outputs })]);
}

/** Checks the training step and its plan after pass train (nothing without one). */
export function verifyTrainingStep(a: Analysis, after: string): void {
  const t = a.training;
  if (!t) return;
  fail(after, [...callProblems(t.graph, t.schedule, ownersOf(a)), ...planProblems(t.graph, t.schedule, t.plan, { liveIn: a.graph.inputs, liveOut: [] })].map((p) => `training ${p}`));
}

/** Checks an analysis whole: the inference schedule and its plan, then the training step's. */
export function verifyAnalysis(a: Analysis, after: string): void {
  verifyPlanned(a, after);
  verifyTrainingStep(a, after);
}
