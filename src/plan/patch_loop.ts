/**
 * The patched early stage as a loop (as TinyEngine runs it): every patch runs the same calls on other
 * windows, so the generated C needs one call statement per call of a patch, inside a loop over a table
 * of what varies between patches (codegen decides which arguments those are). The schedule stays a flat
 * list of calls, which the memory planner and the reports index; this only groups it.
 */
import type { KernelCall } from '../lower/kernel_call.ts';
import { emptyWindowCopy, WINDOW_COPY } from './patch_stage.ts';

/** A call of the schedule with its index there (its step, which the plan's scratch offsets use). */
export interface ScheduledCall { call: KernelCall; step: number }

/** The patches of the stage in order, each its calls in order: patches[k][j] is call j of patch k. */
export interface PatchLoop { patches: ScheduledCall[][] }

export type ScheduleItem = ScheduledCall | { loop: PatchLoop };

/**
 * The schedule with each run of patch calls grouped into a loop. A patch that needs fewer window copies
 * than the others (its window is the whole buffer it reads, as a deep stage's first patch's input can
 * be) runs empty copies in their place. Patches whose calls differ otherwise (another kernel, operator,
 * constant or number of arguments at some position) cannot share one loop body: those stay a call per
 * statement.
 */
export function withPatchLoops(schedule: KernelCall[]): ScheduleItem[] {
  const items: ScheduleItem[] = [];
  for (let step = 0; step < schedule.length;) {
    if (schedule[step].patch === undefined) {
      items.push({ call: schedule[step], step });
      step++;
      continue;
    }
    const patches: ScheduledCall[][] = [];
    for (; step < schedule.length && schedule[step].patch !== undefined; step++) {
      const call = schedule[step];
      if (call.patch !== schedule[step - 1]?.patch || patches.length === 0) patches.push([]);
      patches[patches.length - 1].push({ call, step });
    }
    const longest = patches.reduce((a, b) => (b.length > a.length ? b : a));
    const aligned = patches.map((p) => withEmptyCopies(p, longest));
    if (patches.length > 1 && aligned.every((p) => p !== null && sameShape(p, longest))) items.push({ loop: { patches: aligned as ScheduledCall[][] } });
    else items.push(...patches.flat());
  }
  return items;
}

/** Patch `p` with an empty window copy wherever `like` runs a copy that `p` does not; null if that does not align them. */
function withEmptyCopies(p: ScheduledCall[], like: ScheduledCall[]): ScheduledCall[] | null {
  const out: ScheduledCall[] = [];
  let i = 0;
  for (const slot of like) {
    if (p[i] && p[i].call.fn === slot.call.fn && p[i].call.op === slot.call.op) out.push(p[i++]);
    else if (slot.call.fn === WINDOW_COPY) out.push({ call: emptyWindowCopy(slot.call), step: slot.step });
    else return null;
  }
  return i === p.length ? out : null;
}

/** Whether two patches run the same kernels on the same operators with the same kinds of arguments. */
function sameShape(a: ScheduledCall[], b: ScheduledCall[]): boolean {
  return a.length === b.length && a.every(({ call: x }, j) => {
    const y = b[j].call;
    return x.fn === y.fn && x.op === y.op && x.args.length === y.args.length && x.args.every((arg, i) => {
      const other = y.args[i];
      if (arg.kind !== other.kind) return false;
      // A constant is named in the body: the same one for every patch (a struct may differ, through the table).
      return arg.kind === 'const' && other.kind === 'const' ? arg.name === other.name && arg.owner === other.owner : true;
    });
  });
}
