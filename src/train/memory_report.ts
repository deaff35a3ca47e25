/**
 * What a training build occupies in SRAM and why: the arena (the larger of the inference and training
 * schedules), the trained parameters (moved out of Flash), the optimizer state, the stack and the
 * link's buffers; and which buffers are live at the training peak. Whether that fits the target is
 * src/project/fit.ts's verdict.
 */
import type { Graph } from '../ir/graph.ts';
import type { MemoryPlan } from '../plan/plan_memory.ts';
import { ARENA_ALIGN } from '../plan/plan_memory.ts';
import { mcuOf, type Target } from '../targets/target.ts';
import type { BoardFields } from '../targets/board_view.ts';
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

/** The stack's bytes in the SRAM region; a board with a memory of its own for it (the STM32H7's DTCM) has none there. */
export function stackInSram(target: Target): number {
  return target.kind === 'mcu' && !(target as BoardFields).stackSram ? mcuOf(target).stackBytes : 0;
}

/** The SRAM of a build: inference only when `ta` is undefined. */
export function sramBudget(inference: MemoryPlan, ta: TrainingAnalysis | undefined, target: Target, linkBytes: number): SramBudget {
  const arenaBytes = Math.max(inference.arenaBytes, ta?.plan.arenaBytes ?? 0);
  const paramBytes = ta?.paramBytes ?? 0;
  const momentumBytes = ta?.momentumBytes ?? 0;
  const stackBytes = stackInSram(target);
  const totalBytes = arenaBytes + paramBytes + momentumBytes + stackBytes + linkBytes;
  return { arenaBytes, paramBytes, momentumBytes, stackBytes, linkBytes, totalBytes };
}
