/**
 * The compiler's passes, each a named function from one stage's IR to the next:
 *
 *   model bytes --importModel--> Graph --lowerModel--> Lowered --planInference--> Planned
 *     --analyzeTrainingStep--> Analysis --emitProject--> generated files
 *
 * pipeline.ts sequences them (and chooses the patch layout); verify.ts checks each IR between them in
 * test and debug runs. No pass reads a file or chooses a target beyond what it is given.
 */
import type { Graph } from '../ir/graph.ts';
import { importTflite } from '../import/import_tflite.ts';
import { lowerGraph } from '../lower/lower.ts';
import type { KernelCall } from '../lower/kernel_call.ts';
import type { Numerics } from '../lower/numerics.ts';
import { planMemory, type MemoryPlan } from '../plan/plan_memory.ts';
import type { PatchedSchedule, PatchStage } from '../plan/patch_stage.ts';
import { emitC, type EmitOptions, type GeneratedFile } from '../codegen/emit_c.ts';
import { analyzeTraining, type TrainingAnalysis, type TrainingAnalysisOptions } from '../train/analyze_training.ts';
import type { TrainingScheme } from '../train/scheme.ts';

/** After lowering: the imported graph and one call per operator. */
export interface Lowered {
  graph: Graph;
  calls: KernelCall[];
}

/** After planning: the inference schedule (whole, or with the early stage as patches) placed in the arena. */
export interface Planned {
  /** The imported graph, plus the patch buffers when the early stage runs patch by patch. */
  graph: Graph;
  /** One call per operator: what the generated code defines (parameters, constants). */
  calls: KernelCall[];
  /** What inference runs, in order: `calls`, or with the early stage replaced by its patches. */
  schedule: KernelCall[];
  plan: MemoryPlan;
  /** Present when the early stage runs patch by patch. */
  patches?: PatchStage;
}

/** Everything a report or a project needs; with a training scheme, the training step too. */
export interface Analysis extends Planned {
  /** Present with a training scheme. */
  training?: TrainingAnalysis;
}

/** Pass import: .tflite bytes -> the graph IR. */
export function importModel(bytes: Uint8Array, name: string): Graph {
  return importTflite(bytes, name);
}

/** Pass lower: graph -> one kernel call per operator, parameters prepared as `numerics` computes them. */
export function lowerModel(graph: Graph, numerics: Numerics): Lowered {
  return { graph, calls: lowerGraph(graph, { numerics }) };
}

/** Pass plan: the inference schedule (`patched`'s, or the calls in order) placed in one static arena. */
export function planInference(lowered: Lowered, patched: PatchedSchedule | null = null): Planned {
  const graph = patched?.graph ?? lowered.graph;
  const schedule = patched?.schedule ?? lowered.calls;
  const plan = planMemory(graph, schedule, { liveIn: lowered.graph.inputs, liveOut: lowered.graph.outputs });
  return { graph, calls: lowered.calls, schedule, plan, ...(patched ? { patches: patched.stage } : {}) };
}

/** Pass train: with a scheme, derive, lower and plan the training step; without one, the inference analysis as it is. */
export function analyzeTrainingStep(planned: Planned, scheme: TrainingScheme | undefined, options: TrainingAnalysisOptions = {}): Analysis {
  if (!scheme) return { ...planned };
  const training = analyzeTraining(planned.graph, planned.schedule, scheme, options);
  // A training build's inference reads partly trained tensors as the training step does (split between SRAM and Flash).
  const view = (list: KernelCall[]) => list.map(training.inferenceCall);
  return { ...planned, calls: view(planned.calls), schedule: view(planned.schedule), training };
}

/** Pass codegen: the analysis -> the generated C sources. */
export function emitProject(a: Analysis, options: Omit<EmitOptions, 'training' | 'schedule'>): GeneratedFile[] {
  return emitC(a.graph, a.calls, a.plan, { ...options, training: a.training, schedule: a.schedule });
}
