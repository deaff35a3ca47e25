/**
 * The pipeline from model bytes to everything a report or a project needs: import, lower, plan, the
 * patch-based early stage, and (with a scheme) the training step. No file system, no target choice
 * beyond what the SRAM figure needs.
 */
import type { Graph } from '../ir/graph.ts';
import { importTflite } from '../import/import_tflite.ts';
import { lowerGraph } from '../lower/lower.ts';
import type { KernelCall } from '../lower/kernel_call.ts';
import { parseNumerics, type Numerics } from '../lower/numerics.ts';
import { planMemory, type MemoryPlan } from '../plan/plan_memory.ts';
import { LINK_RECEIVE_BYTES } from '../codegen/emit_c.ts';
import { bestPatchedSchedule, parsePatchMode, type PatchedSchedule, type PatchMode, type PatchStage } from '../plan/patch_stage.ts';
import { mcuOf, type Target } from '../targets/target.ts';
import { analyzeTraining, type TrainingAnalysis, type TrainingAnalysisOptions } from '../train/analyze_training.ts';
import type { TrainingScheme } from '../train/scheme.ts';
import { sramBudget, type SramBudget } from '../train/memory_report.ts';

export interface Analysis {
  /** The imported graph, plus the patch buffers when the early stage runs patch by patch. */
  graph: Graph;
  /** One call per operator: what the generated code defines (parameters, constants). */
  calls: KernelCall[];
  /** What inference runs, in order: `calls`, or with the early stage replaced by its patches. */
  schedule: KernelCall[];
  plan: MemoryPlan;
  /** Present with a training scheme. */
  training?: TrainingAnalysis;
  /** Present when the early stage runs patch by patch. */
  patches?: PatchStage;
}

export interface AnalyzeOptions extends TrainingAnalysisOptions {
  patches?: PatchMode;
  /** For patches 'fit': the SRAM the build must fit within on `target` (none: no limit, so the stage runs whole). */
  fitWithin?: { target: Target; bytes: number };
}

/** What patches 'fit' keeps a build on `target` within: `bytes`, else the target's SRAM (none on a host). */
export function fitWithin(target: Target, bytes?: number): AnalyzeOptions['fitWithin'] {
  const limit = bytes ?? (target.kind === 'mcu' ? mcuOf(target).sram.bytes : undefined);
  return limit === undefined ? undefined : { target, bytes: limit };
}

/** Import, lower and plan (and, with a scheme, derive and plan the training step): everything needed to report on a model or to emit it. */
export function analyzeModel(bytes: Uint8Array, name: string, numericsName?: Numerics, scheme?: TrainingScheme,
  options: AnalyzeOptions = {}): Analysis {
  const numerics = parseNumerics(numericsName);
  const patches = parsePatchMode(options.patches, scheme !== undefined);
  const graph = importTflite(bytes, name);
  const calls = lowerGraph(graph, { numerics });
  const planInference = (p: PatchedSchedule | null) => planMemory(p?.graph ?? graph, p?.schedule ?? calls, { liveIn: graph.inputs, liveOut: graph.outputs });
  const analyse = (p: PatchedSchedule | null, plan = planInference(p)): Analysis => {
    const g = p?.graph ?? graph;
    const schedule = p?.schedule ?? calls;
    const training = scheme ? analyzeTraining(g, schedule, scheme, options) : undefined;
    // A training build's inference reads partly trained tensors as the training step does (split between SRAM and Flash).
    const view = (list: KernelCall[]) => (training ? list.map(training.inferenceCall) : list);
    return { graph: g, calls: view(calls), schedule: view(schedule), plan, training, patches: p?.stage };
  };
  const arena = (a: Analysis) => Math.max(a.plan.arenaBytes, a.training?.plan.arenaBytes ?? 0);
  const whole = analyse(null);
  if (patches === 'off') return whole;
  // Only a frozen stage can run as patches: no backward call may differentiate one of its operators or
  // read one of its activations (they never exist whole), except its output.
  const backward = whole.training?.backwardCalls ?? [];
  const differentiated = new Set(backward.map((c) => c.op));
  const read = new Set(backward.flatMap((c) => c.tensors?.inputs ?? []));
  const frozen = (end: number) => calls.slice(0, end + 1).every((c, i) =>
    !differentiated.has(c.op) && (i === end || graph.operators[c.op].outputs.every((t) => !read.has(t))));
  // 'fit': the arena may take what the budget leaves after the rest of the build's SRAM, which no layout changes.
  const budget = options.fitWithin;
  const limit = patches !== 'fit' ? undefined : budget ? budget.bytes - (buildSram(whole, budget.target).totalBytes - arena(whole)) : Infinity;
  const cache = new Map<PatchedSchedule | null, Analysis>([[null, whole]]);
  let bound = arena(whole);
  const best = bestPatchedSchedule(graph, calls, (p) => {
    if (!p) return arena(whole);
    // The training step cannot take less than inference: skip planning it when inference alone neither
    // beats the best arena so far nor fits the limit.
    const inference = planInference(p);
    if (inference.arenaBytes > Math.max(bound, limit ?? 0)) return inference.arenaBytes;
    const a = analyse(p, inference);
    cache.set(p, a);
    bound = Math.min(bound, arena(a));
    return arena(a);
  }, { allowed: frozen, limit });
  return cache.get(best) ?? analyse(best);
}

/** The SRAM a build of `a` takes on `target`, as planned: arena, trained parameters, momentum, stack, link buffers, operator ticks. */
export function buildSram(a: Analysis, target: Target): SramBudget {
  return sramBudget(a.plan, a.training, target, LINK_RECEIVE_BYTES + 4 * a.calls.length);
}

/** A readable name for step `step` of the training schedule (forward calls, loss, backward calls). */
export function trainingCallName(t: TrainingAnalysis, step: number): string {
  const c = t.schedule[step];
  if (!c) return `step ${step}`;
  const kind = t.graph.operators[c.op]?.kind ?? '';
  return c.name ? `${c.name} ${c.fn ?? ''}${kind ? ` (op ${c.op} ${kind})` : ''}` : `op ${c.op} ${kind}`;
}
