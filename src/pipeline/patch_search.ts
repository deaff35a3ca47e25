/**
 * The patch layout of the early stage (plan/patch_stage.ts) the pipeline keeps: among the layouts whose
 * stage the training step leaves frozen, bestPatchedSchedule's choice for the arena each candidate
 * takes (the larger of inference and training). Each candidate is analysed at most once: the search
 * keeps every analysis it completes, so the winner is not analysed again.
 */
import { bestPatchedSchedule, type PatchedSchedule } from '../plan/patch_stage.ts';
import type { MemoryPlan } from '../plan/plan_memory.ts';
import type { Analysis, Lowered, Planned } from './passes.ts';

export interface PatchSearch {
  lowered: Lowered;
  /** The analysis without patches (the search's baseline). */
  whole: Analysis;
  /** 'fit': the most the arena may take (the least recomputation within it wins); none: the smallest arena wins. */
  arenaLimit?: number;
  /** Plans a candidate's inference schedule (pass plan). */
  plan: (p: PatchedSchedule) => Planned;
  /** Completes a planned candidate (pass train). */
  analyse: (planned: Planned) => Analysis;
}

/** The arena a build of `a` needs: the larger of the inference and training schedules'. */
export const arenaOf = (a: { plan: MemoryPlan; training?: { plan: MemoryPlan } }): number => Math.max(a.plan.arenaBytes, a.training?.plan.arenaBytes ?? 0);

/** The analysis with the chosen patch layout (`whole` when running the stage whole is best). */
export function searchPatchLayout(s: PatchSearch): Analysis {
  const { graph, calls } = s.lowered;
  // Only a frozen stage can run as patches: no backward call may differentiate one of its operators or
  // read one of its activations (they never exist whole), except its output.
  const backward = s.whole.training?.backwardCalls ?? [];
  const differentiated = new Set(backward.map((c) => c.op));
  const read = new Set(backward.flatMap((c) => c.tensors?.inputs ?? []));
  const frozen = (end: number) => calls.slice(0, end + 1).every((c, i) =>
    !differentiated.has(c.op) && (i === end || graph.operators[c.op].outputs.every((t) => !read.has(t))));
  const analysed = new Map<PatchedSchedule | null, Analysis>([[null, s.whole]]);
  let bound = arenaOf(s.whole);
  const best = bestPatchedSchedule(graph, calls, (p) => {
    if (!p) return arenaOf(s.whole);
    // The training step cannot take less than inference: skip planning it when inference alone neither
    // beats the best arena so far nor fits the limit.
    const planned = s.plan(p);
    if (planned.plan.arenaBytes > Math.max(bound, s.arenaLimit ?? 0)) return planned.plan.arenaBytes;
    const a = s.analyse(planned);
    analysed.set(p, a);
    bound = Math.min(bound, arenaOf(a));
    return arenaOf(a);
  }, { allowed: frozen, limit: s.arenaLimit });
  return analysed.get(best) ?? s.analyse(s.plan(best!));
}
