/**
 * `mcutrain plan`: the memory and compute report of a training scheme before anything is built, as a
 * plain object (for --json) and a text summary; src/report/ draws it (the memory timeline, plan --svg).
 */
import type { Analysis } from '../pipeline/pipeline.ts';
import { fitVerdict, type FitVerdict } from './fit.ts';
import { flashConstBytes } from '../plan/flash.ts';
import type { Target } from '../targets/target.ts';
import { buffersAtPeak, type PeakBuffer, type SramBudget } from '../train/memory_report.ts';
import { trainingCallName, type TrainingAnalysis } from '../train/analyze_training.ts';

export interface PlanReport {
  model: string;
  target: string;
  scheme: string;
  /** False: the conventional order (gradients buffered, updates after the backward pass), planned for comparison. */
  reorder: boolean;
  sram: SramBudget;
  /** Whether it fits the target, and what would make it fit (src/project/fit.ts). */
  fit: FitVerdict;
  /** Training schedule: arena, lower bound (most bytes live at once), their ratio. */
  trainArenaBytes: number;
  trainLowerBoundBytes: number;
  arenaToLowerBound: number;
  inferenceArenaBytes: number;
  flashBytes: number;
  macsForward: number;
  macsBackward: number;
  trained: { layer: number; op: number; kind: string; weights: string; bias: string; paramBytes: number }[];
  forwardOps: number;
  /** Forward operators whose backward runs, of those before the loss. */
  differentiatedOps: number;
  schedule: { step: number; call: string; macs: number }[];
  buffers: { tensors: string; bytes: number; offset: number; firstStep: number; lastStep: number }[];
  peak: { step: number; call: string; buffers: PeakBuffer[] };
}

export function makePlanReport(a: Analysis, t: TrainingAnalysis, target: Target, fit: FitVerdict = fitVerdict(a, target)): PlanReport {
  const name = (step: number) => trainingCallName(t, step);
  const layerIndex = new Map(t.tg.weightedLayers.map((op, i) => [op.id, i]));
  return {
    model: a.graph.name,
    target: target.name,
    scheme: t.schemeText,
    reorder: t.reorder,
    sram: fit.sram,
    fit,
    trainArenaBytes: t.plan.arenaBytes,
    trainLowerBoundBytes: t.plan.lowerBoundBytes,
    arenaToLowerBound: t.plan.lowerBoundBytes > 0 ? t.plan.arenaBytes / t.plan.lowerBoundBytes : 1,
    inferenceArenaBytes: a.plan.arenaBytes,
    flashBytes: flashConstBytes(t.graph, [...a.calls, ...t.backwardCalls]),
    macsForward: t.macsForward,
    macsBackward: t.macsBackward,
    trained: t.tg.trained.map((l) => ({
      layer: layerIndex.get(l.op.id) ?? l.layer,
      op: l.op.id,
      kind: l.op.kind,
      weights: l.weightChannels === 0 ? 'frozen' : l.weightInputChannels < l.inputChannels
        ? `${l.weightInputChannels}/${l.inputChannels} in-channels` : `${l.weightChannels}/${l.channels} channels`,
      bias: l.updateBias ? 'trained' : l.bias ? 'frozen' : 'none',
      paramBytes: t.params.filter((p) => p.op === l.op.id).reduce((s, p) => s + p.bytes, 0),
    })),
    forwardOps: t.tg.forward.length,
    differentiatedOps: new Set(t.backwardCalls.map((c) => c.op)).size,
    schedule: t.schedule.map((c, step) => ({ step, call: name(step), macs: c.macs })),
    buffers: t.plan.buffers.map((b) => ({
      tensors: b.scratchOf !== undefined ? `scratch of ${name(b.scratchOf)}` : b.tensors.map((id) => t.graph.tensors[id].name).join(' = '),
      bytes: b.bytes, offset: b.offset, firstStep: b.firstStep, lastStep: b.lastStep,
    })).sort((x, y) => x.firstStep - y.firstStep || x.offset - y.offset),
    peak: { step: t.plan.peakStep, call: name(t.plan.peakStep), buffers: buffersAtPeak(t.graph, t.plan, name) },
  };
}

const kb = (n: number) => `${n.toLocaleString('en-US')} B (${(n / 1024).toFixed(1)} KiB)`;

export function formatPlanReport(r: PlanReport): string {
  const lines = [
    `${r.model} on ${r.target}, training scheme ${r.scheme}`,
    ...(r.reorder ? [] : ['without operator reordering: every gradient buffered, all updates after the backward pass (a figure to compare; not compilable)']),
    '',
    `SRAM total          ${kb(r.sram.totalBytes)}`,
    `  arena             ${kb(r.sram.arenaBytes)}  (training ${r.trainArenaBytes.toLocaleString('en-US')} B, inference ${r.inferenceArenaBytes.toLocaleString('en-US')} B)`,
    `  lower bound       ${kb(r.trainLowerBoundBytes)}  training arena / lower bound = ${r.arenaToLowerBound.toFixed(3)}`,
    `  trained params    ${kb(r.sram.paramBytes)}`,
    `  momentum          ${kb(r.sram.momentumBytes)}`,
    `  stack             ${kb(r.sram.stackBytes)}`,
    `  link buffers      ${kb(r.sram.linkBytes)}`,
    `  runtime           ${kb(r.sram.runtimeBytes)}  (link and platform variables, alignment)`,
    `Flash constants     ${kb(r.flashBytes)}`,
    `MACs per step       forward ${r.macsForward.toLocaleString('en-US')}, backward ${r.macsBackward.toLocaleString('en-US')}`,
    `Backward            ${r.differentiatedOps} of ${r.forwardOps} forward operators differentiated; ${r.schedule.length} steps in all`,
    '',
    'Trained layers:',
    ...r.trained.map((l) => `  layer ${String(l.layer).padStart(3)}  op ${String(l.op).padStart(3)} ${l.kind.padEnd(18)} weights ${l.weights.padEnd(16)} bias ${l.bias.padEnd(7)} ${l.paramBytes} B`),
    '',
    `Peak at step ${r.peak.step} (${r.peak.call}):`,
    ...r.peak.buffers.slice(0, 8).map((b) => `  ${String(b.bytes).padStart(8)} B  ${b.label}  (steps ${b.firstStep}..${b.lastStep})`),
    '',
    `Verdict: ${r.fit.summary}`,
  ];
  return lines.join('\n');
}
