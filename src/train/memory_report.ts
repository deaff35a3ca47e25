/**
 * What a training build occupies in SRAM and why: the arena (the larger of the inference and training
 * schedules), the trained parameters (moved out of Flash), the optimizer state, the stack, the link's
 * buffers and the C runtime's own variables; and which buffers are live at the training peak. Whether
 * that fits the target is src/project/fit.ts's verdict.
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
  /** The C runtime's own variables and the linker's alignment padding (runtimeSram). */
  runtimeBytes: number;
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

/**
 * The .data and .bss of the runtime under firmware/platform/<platform> and firmware/link, whatever the model:
 * the link's small-frame buffer (261 B), state (232 B), staged label (4 B) and the 1-byte request buffer the
 * generated code reserves; the platform's fault stack (512 B), clock and UART state (mps2: a 520-B receive ring;
 * nrf52: a 64-B send buffer); the SGD hyperparameters (8 B); with the padding between them. Measured with
 * arm-none-eabi-nm on the images test/train/runtime_sram.test.ts builds, which pins what they leave over.
 */
export const RUNTIME_VARIABLES_BYTES: Readonly<Record<string, number>> = { mps2: 1553, stm32f7: 1045, stm32h7: 1045, rp2040: 1045, nrf52: 1117 };
/** The integer-only engine's SGD state over the float engine's 8 B: mt_sgd_int (16 B) and the float lr and momentum SET_HYPER writes (8 B). */
const INT_SGD_EXTRA_BYTES = 16;
/** Padding the linker adds that the sizes above cannot hold: .bss and the arena each start on 16 bytes. */
const ALIGNMENT_BYTES = 2 * 15;

/**
 * The runtime's share of a board's SRAM (0 on the host): its own variables (the largest measured for a platform not
 * in the table), the alignment padding, each trained tensor's padding to 4 bytes (they are aligned(4) in .data), and
 * the narrow gradients' exponent table (one int8_t per gradient tensor), the integer engine's larger SGD state.
 */
export function runtimeSram(target: Target, ta: TrainingAnalysis | undefined): number {
  if (target.kind !== 'mcu') return 0;
  const variables = RUNTIME_VARIABLES_BYTES[target.platform] ?? Math.max(...Object.values(RUNTIME_VARIABLES_BYTES));
  const paramPadding = (ta?.params ?? []).reduce((sum, p) => sum + ((4 - (p.bytes % 4)) % 4), 0);
  const sgd = ta?.tg.scheme.arith === 'int' ? INT_SGD_EXTRA_BYTES : 0;
  return variables + ALIGNMENT_BYTES + paramPadding + (ta?.gradExponents ?? 0) + sgd;
}

/** The SRAM of a build: inference only when `ta` is undefined. */
export function sramBudget(inference: MemoryPlan, ta: TrainingAnalysis | undefined, target: Target, linkBytes: number): SramBudget {
  const arenaBytes = Math.max(inference.arenaBytes, ta?.plan.arenaBytes ?? 0);
  const paramBytes = ta?.paramBytes ?? 0;
  const momentumBytes = ta?.momentumBytes ?? 0;
  const stackBytes = stackInSram(target);
  const runtimeBytes = runtimeSram(target, ta);
  const totalBytes = arenaBytes + paramBytes + momentumBytes + stackBytes + linkBytes + runtimeBytes;
  return { arenaBytes, paramBytes, momentumBytes, stackBytes, linkBytes, runtimeBytes, totalBytes };
}
