/**
 * The linked SRAM of issue 11's workload: MCUNet-5FPS (zoo, int8, 128x128x3, 10 classes) with TinyEngine's
 * 49 KB scheme, compiled as `mcutrain compile` does and linked with arm-none-eabi-gcc for the emulated
 * Cortex-M7 (mps2-an500) and the paper's board (stm32f746g-disco). The SRAM the ELF takes (.data + .bss
 * + the stack, in the target's SRAM region) beside the planner's total and its parts. The goal: at most
 * 128 KiB, half of TinyEngine's published image (249,840 B). On the emulated board, also the stack the
 * engine really used (the platform paints it at boot): its high water after an INFER, an EVALUATE and two
 * TRAIN_STEPs; and on both, a static bound from gcc's call graph (bench/stack_bound.ts); against the
 * 16 KiB reserved.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildProjectAsync, linkedSramBytes } from '../src/build/build_project.ts';
import { formatTable } from '../src/util/table.ts';
import { McutrainError } from '../src/errors.ts';
import { writeTflite } from '../src/export/write_tflite.ts';
import { openProjectDevice } from '../src/connect/connect.ts';
import { compileModel } from '../src/project/compile_project.ts';
import { readManifest } from '../src/project/manifest.ts';
import { loadTarget } from '../src/targets/target.ts';
import type { SramBudget } from '../src/train/memory_report.ts';
import { schemeToString } from '../src/train/scheme.ts';
import { buildZooModel } from '../src/zoo/zoo.ts';
import { sampleInput } from './emulated.ts';
import { staticStackBound, type StackBound } from './stack_bound.ts';
import { tinyEngine49kb } from './training_schemes.ts';

export const LINKED_SRAM_TARGETS = ['mps2-an500', 'stm32f746g-disco'];
export const LINKED_SRAM_GOAL_BYTES = 128 * 1024;
/** TinyEngine's linked firmware for the STM32F746 on the same workload (../shared/anchors/README.md). */
export const TINYENGINE_IMAGE_BYTES = 249_840;

export interface LinkedSramRow {
  target: string;
  model: string;
  scheme: string;
  /** The planner's figures for the build (memory_report.ts), as `mcutrain plan` prints them. */
  planned: SramBudget;
  /** SRAM the linked firmware.elf takes in the target's SRAM region; null when the compile refused the build. */
  linkedBytes: number | null;
  /** planned - linked: what the plan allows for that the linker did not need. */
  marginBytes: number | null;
  goalBytes: number;
  /** Deepest stack use the emulated board saw over an INFER, an EVALUATE and two TRAIN_STEPs (it moves a little with where
   * interrupts land); null on a board QEMU does not run. */
  stackHighWaterBytes: number | null;
  /** Static bound on the stack the image can use (gcc's call graph with frame sizes, exception frames); null when refused. */
  stackBound: StackBound | null;
  /** The compile's refusal, when it did not fit the target. */
  error?: string;
}

export async function measureLinkedSram(work: string): Promise<LinkedSramRow[]> {
  const graph = await buildZooModel('mcunet-5fps', { int8: true });
  const modelPath = path.join(work, 'mcunet-5fps-linked.tflite');
  writeFileSync(modelPath, writeTflite(graph));
  const rows: LinkedSramRow[] = [];
  // float32 gradients (the default) and int16 (--grad i16), each on both boards
  for (const grad of ['f32', 'i16'] as const) for (const name of LINKED_SRAM_TARGETS) {
    const scheme = schemeToString({ ...tinyEngine49kb(graph).scheme, grad });
    const base = { target: name, model: 'mcunet-5fps (zoo, int8, 128x128x3)', scheme, goalBytes: LINKED_SRAM_GOAL_BYTES };
    try {
      const { fit, outDir } = compileModel({ modelPath, target: name, outDir: path.join(work, `linked-${name}-${grad}`), train: { scheme } });
      const { artifact } = await buildProjectAsync(outDir);
      const target = loadTarget(name);
      const linkedBytes = linkedSramBytes(artifact, target);
      const stackHighWaterBytes = target.qemu ? await stackHighWater(outDir) : null;
      const stackBound = await staticStackBound(outDir, work);
      rows.push({ ...base, planned: fit.sram, linkedBytes, marginBytes: fit.sram.totalBytes - linkedBytes, stackHighWaterBytes, stackBound });
    } catch (error) {
      if (!(error instanceof McutrainError)) throw error;
      const planned = { arenaBytes: 0, paramBytes: 0, momentumBytes: 0, stackBytes: 0, linkBytes: 0, runtimeBytes: 0, totalBytes: 0 };
      rows.push({ ...base, planned, linkedBytes: null, marginBytes: null, stackHighWaterBytes: null, stackBound: null, error: error.message });
    }
  }
  return rows;
}

/** The stack high water of the emulated board after inference, evaluation and training steps on one sample. */
async function stackHighWater(dir: string): Promise<number | null> {
  const device = await openProjectDevice(dir, readManifest(dir), { timeoutMs: 10 * 60_000 });
  try {
    const sample = sampleInput((await device.trainInfo()).inputBytes);
    await device.infer(sample);
    await device.evaluate(sample, 0);
    for (const label of [0, 1]) await device.trainStep(sample, label);
    return (await device.profile()).stackHighWaterBytes ?? null;
  } finally {
    await device.close();
  }
}

export function formatLinkedSram(rows: LinkedSramRow[]): string {
  const n = (v: number | null) => (v === null ? '-' : v.toLocaleString('en-US'));
  const head = ['target', 'gradients', 'linked SRAM B', 'planned B', 'arena', 'trained', 'momentum', 'stack', 'stack used', 'stack bound', 'link', 'runtime', 'goal', 'vs TinyEngine'];
  const body = rows.map((r) => [
    r.target, /grad=(i16|i8)/.exec(r.scheme)?.[1] ?? 'f32', r.error ? `refused: ${r.error}` : n(r.linkedBytes), n(r.planned.totalBytes), n(r.planned.arenaBytes), n(r.planned.paramBytes),
    n(r.planned.momentumBytes), n(r.planned.stackBytes), n(r.stackHighWaterBytes), n(r.stackBound?.bytes ?? null), n(r.planned.linkBytes), n(r.planned.runtimeBytes),
    r.linkedBytes === null ? '-' : `${r.linkedBytes <= r.goalBytes ? 'met' : 'missed'} (${n(r.goalBytes)})`,
    r.linkedBytes === null ? '-' : `${((r.linkedBytes / TINYENGINE_IMAGE_BYTES) * 100).toFixed(1)}%`,
  ]);
  return formatTable(head, body, new Set(head.map((_, i) => i).slice(2)));
}
