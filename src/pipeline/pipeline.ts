/**
 * The pipeline from model bytes to everything a report or a project needs: the passes of passes.ts in
 * order (import, lower, plan, and with a scheme the training step), the patch layout of the early stage
 * (patch_search.ts), and with verification on, verify.ts's checks after every pass. `inspect`, `plan`,
 * `compile`, `scheme` (the search), `zoo` and the bench all analyse a model here. No file system, no
 * target choice beyond what the SRAM figure needs.
 */
import type { Graph } from '../ir/graph.ts';
import { parseNumerics, type Numerics } from '../lower/numerics.ts';
import { LINK_RECEIVE_BYTES } from '../codegen/emit_c.ts';
import { parsePatchMode, type PatchMode } from '../plan/patch_stage.ts';
import { mcuOf, type Target } from '../targets/target.ts';
import type { TrainingAnalysisOptions } from '../train/analyze_training.ts';
import type { TrainingScheme } from '../train/scheme.ts';
import { sramBudget, type SramBudget } from '../train/memory_report.ts';
import { analyzeTrainingStep, importModel, lowerModel, planInference, type Analysis, type Planned } from './passes.ts';
import { arenaOf, searchPatchLayout } from './patch_search.ts';
import { verifyAnalysis, verifyGraph, verifyLowered, verifyPlanned, verifyRequested, verifyTrainingStep } from './verify.ts';

export type { Analysis, Lowered, Planned } from './passes.ts';

export interface AnalyzeOptions extends TrainingAnalysisOptions {
  patches?: PatchMode;
  /** For patches 'fit': the SRAM the build must fit within on `target` (none: no limit, so the stage runs whole). */
  fitWithin?: { target: Target; bytes: number };
  /** Check every pass's output (verify.ts); default: on when MCUTRAIN_VERIFY=1 (the tests set it). */
  verify?: boolean;
}

/** What patches 'fit' keeps a build on `target` within: `bytes`, else the target's SRAM (none on a host). */
export function fitWithin(target: Target, bytes?: number): AnalyzeOptions['fitWithin'] {
  const limit = bytes ?? (target.kind === 'mcu' ? mcuOf(target).sram.bytes : undefined);
  return limit === undefined ? undefined : { target, bytes: limit };
}

/** Pass import, checked when verification is on. */
export function importChecked(bytes: Uint8Array, name: string, verify = verifyRequested()): Graph {
  const graph = importModel(bytes, name);
  if (verify) verifyGraph(graph, 'import');
  return graph;
}

/** Import, lower and plan (and, with a scheme, derive and plan the training step): everything needed to report on a model or to emit it. */
export function analyzeModel(bytes: Uint8Array, name: string, numericsName?: Numerics, scheme?: TrainingScheme,
  options: AnalyzeOptions = {}): Analysis {
  const numerics = parseNumerics(numericsName);
  parsePatchMode(options.patches, scheme !== undefined); // bad options fail before the model is read
  return analyzeGraph(importChecked(bytes, name, options.verify), numerics, scheme, options);
}

/** The passes after import: lower, plan, with a scheme the training step, and the patch layout when patches are on. */
export function analyzeGraph(graph: Graph, numerics?: Numerics, scheme?: TrainingScheme, options: AnalyzeOptions = {}): Analysis {
  const verify = options.verify ?? verifyRequested();
  const patches = parsePatchMode(options.patches, scheme !== undefined);
  const lowered = lowerModel(graph, parseNumerics(numerics));
  if (verify) verifyLowered(lowered, 'lower');
  const analyse = (planned: Planned) => analyzeTrainingStep(planned, scheme, options);
  const planned = planInference(lowered);
  if (verify) verifyPlanned(planned, 'plan');
  const whole = analyse(planned);
  if (verify) verifyTrainingStep(whole, 'train');
  if (patches === 'off') return whole;
  // 'fit': the arena may take what the budget leaves after the rest of the build's SRAM, which no layout changes.
  const budget = options.fitWithin;
  const arenaLimit = patches !== 'fit' ? undefined : budget ? budget.bytes - (buildSram(whole, budget.target).totalBytes - arenaOf(whole)) : Infinity;
  const chosen = searchPatchLayout({ lowered, whole, arenaLimit, plan: (p) => planInference(lowered, p), analyse });
  // The search's candidates are not checked one by one (the time would grow with their number), the one it keeps is.
  if (verify && chosen !== whole) verifyAnalysis(chosen, 'plan and train of the patch layout');
  return chosen;
}

/** The SRAM a build of `a` takes on `target`, as planned: arena, trained parameters, momentum, stack, link buffers, operator ticks. */
export function buildSram(a: Analysis, target: Target): SramBudget {
  return sramBudget(a.plan, a.training, target, LINK_RECEIVE_BYTES + 4 * a.calls.length);
}
