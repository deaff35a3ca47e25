/**
 * What a training build occupies in SRAM and why: the arena (the larger of the inference and training
 * schedules), the trained parameters (moved out of Flash), the optimizer state, the stack and the
 * link's buffers; and which buffers are live at the training peak. A build that cannot fit its target
 * fails here, at compile time, with these numbers.
 */
import { McutrainError } from '../errors.ts';
import type { Graph } from '../ir/graph.ts';
import type { MemoryPlan } from '../plan/plan_memory.ts';
import { ARENA_ALIGN } from '../plan/plan_memory.ts';
import { mcuOf, type Target } from '../targets/target.ts';
import type { TrainingAnalysis } from './analyze_training.ts';

export interface SramBudget {
  arenaBytes: number;
  paramBytes: number;
  momentumBytes: number;
  stackBytes: number;
  linkBytes: number;
  totalBytes: number;
}

export interface PeakBuffer {
  /** Tensor names sharing the buffer, or "scratch of <call>". */
  label: string;
  bytes: number;
  firstStep: number;
  lastStep: number;
}

/** Buffers live at the plan's peak step, largest first. */
export function buffersAtPeak(graph: Graph, plan: MemoryPlan, callName: (step: number) => string): PeakBuffer[] {
  return plan.buffers
    .filter((b) => b.firstStep <= plan.peakStep && plan.peakStep <= b.lastStep)
    .map((b) => ({
      label: b.scratchOf !== undefined ? `scratch of ${callName(b.scratchOf)}` : b.tensors.map((t) => graph.tensors[t].name).join(' = '),
      bytes: Math.ceil(b.bytes / ARENA_ALIGN) * ARENA_ALIGN,
      firstStep: b.firstStep,
      lastStep: b.lastStep,
    }))
    .sort((a, b) => b.bytes - a.bytes);
}

export function sramBudget(inference: MemoryPlan, ta: TrainingAnalysis, target: Target, linkBytes: number): SramBudget {
  const arenaBytes = Math.max(inference.arenaBytes, ta.plan.arenaBytes);
  const stackBytes = target.kind === 'mcu' ? mcuOf(target).stackBytes : 0;
  const totalBytes = arenaBytes + ta.paramBytes + ta.momentumBytes + stackBytes + linkBytes;
  return { arenaBytes, paramBytes: ta.paramBytes, momentumBytes: ta.momentumBytes, stackBytes, linkBytes, totalBytes };
}

/** Fails when the training build cannot fit the target's SRAM, naming the largest costs. */
export function requireFits(budget: SramBudget, ta: TrainingAnalysis, target: Target, callName: (step: number) => string): void {
  if (target.kind !== 'mcu') return;
  const sram = mcuOf(target).sram.bytes;
  if (budget.totalBytes <= sram) return;
  const top = buffersAtPeak(ta.graph, ta.plan, callName).slice(0, 5)
    .map((b) => `${b.label} ${b.bytes} B (steps ${b.firstStep}..${b.lastStep})`).join('; ');
  throw new McutrainError(
    `the training scheme needs ${budget.totalBytes} B of SRAM but ${target.name} has ${sram} B ` +
    `(arena ${budget.arenaBytes} B with training peak ${ta.plan.arenaBytes} B at step ${ta.plan.peakStep}, lower bound ${ta.plan.lowerBoundBytes} B; ` +
    `trained parameters ${budget.paramBytes} B; momentum ${budget.momentumBytes} B; stack ${budget.stackBytes} B; link buffers ${budget.linkBytes} B). ` +
    `Largest buffers at the peak: ${top}`,
    'train fewer or later layers (fewer weights, smaller channel fractions), drop momentum, or choose a board with more SRAM');
}
