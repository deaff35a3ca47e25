/**
 * The memory timeline of a training step: schedule steps across, SRAM up. The parts of SRAM that live
 * for the whole run (trained parameters, momentum, stack, link buffers, runtime) are bands at the bottom;
 * the arena sits on them and every arena buffer is a rectangle where it lives (its tensor names on hover).
 * The peak step, the board's SRAM and a budget are marked; a strip on top names each step's phase.
 */
import type { PlanReport } from '../project/plan_report.ts';
import { BYTES_AS_KIB, Plot, plotSvg } from './plot_svg.ts';
import { kib } from './html.ts';

export type Phase = 'forward' | 'loss' | 'backward' | 'update';

export const PHASE_COLOURS: Record<Phase, string> = { forward: '#4e79a7', loss: '#222', backward: '#e15759', update: '#59a14f' };

/** Each step's phase: forward before the loss, then backward, with weight and bias updates apart. */
export function stepPhases(schedule: PlanReport['schedule']): Phase[] {
  const lossStep = schedule.findIndex((s) => s.call.startsWith('loss'));
  return schedule.map((s, i) => {
    if (lossStep < 0 || i < lossStep) return 'forward';
    if (i === lossStep) return 'loss';
    return /_update/.test(s.call) ? 'update' : 'backward';
  });
}

/** The SRAM outside the arena, bottom up, as the timeline stacks it. */
export function fixedSramParts(r: PlanReport): { name: string; bytes: number }[] {
  const s = r.sram;
  return [
    { name: 'trained parameters', bytes: s.paramBytes },
    { name: 'momentum', bytes: s.momentumBytes },
    { name: 'stack', bytes: s.stackBytes },
    { name: 'link buffers', bytes: s.linkBytes },
    { name: 'runtime', bytes: s.runtimeBytes },
  ].filter((p) => p.bytes > 0);
}

export interface TimelineOptions {
  /** An SRAM budget to draw (e.g. the scheme search's --budget); the board's SRAM is drawn from the plan. */
  budgetBytes?: number;
  /** A file of its own (plan --svg): the SVG alone, its colours named in a line on it rather than in an HTML legend. */
  standalone?: boolean;
}

/** A horizontal line is drawn to scale only when it is within this factor of the planned SRAM (a 4 MiB board over a 30 KiB plan is noted above the chart instead). */
const LINE_SCALE = 8;

export function memoryTimelineSvg(r: PlanReport, options: TimelineOptions = {}): string {
  const base = r.sram.totalBytes - r.sram.arenaBytes;
  const steps = r.schedule.length;
  const phases = stepPhases(r.schedule);
  const fixed = fixedSramParts(r);
  let below = 0;
  const bands = fixed.map((p) => ({ ...p, y1: below, y2: (below += p.bytes) }));
  const lines = [
    { name: 'board SRAM', bytes: r.fit.sram.capacityBytes, stroke: '#b00' },
    { name: 'budget', bytes: options.budgetBytes ?? null, stroke: '#e08a00' },
  ].filter((l): l is { name: string; bytes: number; stroke: string } => l.bytes !== null);
  const drawn = lines.filter((l) => l.bytes <= LINE_SCALE * r.sram.totalBytes);
  const offScale = lines.filter((l) => !drawn.includes(l));
  const top = Math.max(r.sram.totalBytes, ...drawn.map((l) => l.bytes)) * 1.15;
  const strip = { y1: top - top * 0.025, y2: top, h: top * 0.025 };
  const peakTop = base + r.trainArenaBytes;
  const kind = (t: string) => (t.startsWith('grad') || t.includes('grad:') ? 'gradient' : t.startsWith('scratch') ? 'scratch' : 'activation');
  return plotSvg({
    width: 1000,
    height: 480,
    marginLeft: 70,
    marginRight: 150,
    marginTop: 40,
    marginBottom: 45,
    x: { label: 'schedule step', domain: [-1, steps] },
    y: { ...BYTES_AS_KIB, label: 'SRAM (KiB)', domain: [0, top / 1024], grid: true },
    color: { domain: ['activation', 'gradient', 'scratch'], range: ['#7aa6d6', '#e8846b', '#b38fd1'], legend: !options.standalone },
    marks: [
      Plot.rect(bands, { x1: 0, x2: steps, y1: 'y1', y2: 'y2', fill: '#ccc', stroke: '#fff', title: (b: typeof bands[number]) => `${b.name}: ${b.bytes} B for the whole run` }),
      Plot.text(bands.filter((b) => b.y2 - b.y1 > top / 40), { x: steps, y: (b: typeof bands[number]) => (b.y1 + b.y2) / 2, text: 'name', textAnchor: 'start', dx: 4 }),
      Plot.rect(r.buffers, {
        x1: 'firstStep', x2: (b: PlanReport['buffers'][number]) => b.lastStep + 1,
        y1: (b: PlanReport['buffers'][number]) => base + b.offset, y2: (b: PlanReport['buffers'][number]) => base + b.offset + b.bytes,
        fill: (b: PlanReport['buffers'][number]) => kind(b.tensors), stroke: '#333', strokeWidth: 0.3,
        title: (b: PlanReport['buffers'][number]) => `${b.tensors}\n${b.bytes} B at arena offset ${b.offset}, steps ${b.firstStep}..${b.lastStep}`,
      }),
      // the phase strip: forward, loss and backward on its upper row, the updates (interleaved with the backward pass when reordered) on its lower row
      Plot.rect(phases.map((p, i) => ({ p, i })), {
        x1: 'i', x2: (d: { i: number }) => d.i + 1, y1: (d: { p: Phase }) => (d.p === 'update' ? strip.y1 - strip.h : strip.y1), y2: (d: { p: Phase }) => (d.p === 'update' ? strip.y1 : strip.y2),
        fill: (d: { p: Phase }) => PHASE_COLOURS[d.p], title: (d: { p: Phase; i: number }) => `step ${d.i}: ${d.p} (${r.schedule[d.i].call})`,
      }),
      ...(['middle', 'start'] as const).map((anchor) => Plot.text(phaseLabels(phases).filter((d) => (d.phase === 'update') === (anchor === 'start')), {
        x: 'x', y: (d: { phase: Phase }) => (d.phase === 'update' ? strip.y1 - strip.h : strip.y1), text: 'phase', dy: 8, textAnchor: anchor,
        fill: (d: { phase: Phase }) => PHASE_COLOURS[d.phase], fontWeight: 'bold', className: 'phase-label',
      })),
      Plot.ruleY([base], { stroke: '#555', strokeDasharray: '2 2' }),
      Plot.ruleY(drawn, { y: 'bytes', stroke: 'stroke', strokeWidth: 1.5, className: 'sram-line' }),
      Plot.text(drawn, { x: steps, y: 'bytes', text: (l: typeof drawn[number]) => `${l.name} ${kib(l.bytes)}`, textAnchor: 'start', dx: 4, fill: 'stroke' }),
      Plot.ruleX([r.peak.step + 0.5], { stroke: '#000', strokeDasharray: '4 3', className: 'peak-marker' }),
      Plot.dot([{ x: r.peak.step + 0.5, y: peakTop }], { x: 'x', y: 'y', r: 5, fill: '#000', title: () => `peak at step ${r.peak.step}: ${r.peak.call}` }),
      Plot.text([{ x: r.peak.step + 0.5, y: peakTop }], {
        x: 'x', y: 'y', dy: -10, textAnchor: r.peak.step > steps / 2 ? 'end' : 'start',
        text: () => `peak: step ${r.peak.step}, arena ${kib(r.trainArenaBytes)}`, fontWeight: 'bold',
      }),
      ...(offScale.length > 0
        ? [Plot.text([offScale.map((l) => `${l.name} ${kib(l.bytes)}: above the chart`).join('; ')], { frameAnchor: 'top-left', dy: -30, text: (d: string) => d, className: 'off-scale' })]
        : []),
      ...(options.standalone
        ? [Plot.text([`${r.model}, ${r.scheme}: blue activations, red gradients, violet scratch, grey fixed SRAM`], { frameAnchor: 'bottom-left', dy: 34, textAnchor: 'start', text: (d: string) => d })]
        : []),
    ],
  });
}

/** Where each phase's name goes: forward and backward at the middle of their steps, the first update at its step (the loss is one step: the legend names it). */
function phaseLabels(phases: Phase[]): { phase: Phase; x: number }[] {
  const steps = (p: Phase) => phases.flatMap((q, i) => (q === p ? [i] : []));
  const lossStep = phases.indexOf('loss');
  const backward = lossStep < 0 ? [] : phases.map((_, i) => i).filter((i) => i > lossStep);
  const middle = (xs: number[]) => (xs[0] + xs[xs.length - 1] + 1) / 2;
  const labels: { phase: Phase; x: number }[] = [];
  if (steps('forward').length) labels.push({ phase: 'forward', x: middle(steps('forward')) });
  if (backward.length) labels.push({ phase: 'backward', x: middle(backward) });
  const updates = steps('update');
  if (updates.length) labels.push({ phase: 'update', x: updates[0] + 0.5 });
  return labels;
}
