/**
 * One self-contained HTML report (inline SVG charts and CSS, no script, no external URL) from whatever
 * of a training plan, an on-device profile, a training history and a build's memory usage is at hand.
 * The inputs are the data the commands already write as JSON, so a report can be made afterwards from files.
 */
import type { MemoryUsage } from '../elf/elf.ts';
import type { PlanReport } from '../project/plan_report.ts';
import { fixedSramParts, memoryTimelineSvg, PHASE_COLOURS, stepPhases } from './memory_timeline.ts';
import { BYTES_AS_KIB, Plot, plotSvg } from './plot_svg.ts';
import { escapeHtml, kib, table } from './html.ts';
import { benchSection, type BenchResults } from './bench_section.ts';

/** `mcutrain profile --json`: per-operator ticks of one inference. */
export interface ProfileData {
  target: string;
  device: string;
  runs: number;
  /** What a tick is: "instructions" (QEMU under -icount), "cycles" (DWT on silicon), "ns" (host clock). */
  tickUnit: string;
  totalTicks: number;
  ops: { index: number; kind: string; macs: number; ticks: number; share: number }[];
}

/** `mcutrain train --json`: per-epoch figures and every step's loss. */
export interface TrainingHistory {
  device?: string;
  /** The validation score before the first step (epoch 0 on the curves). */
  before?: { loss: number; accuracy: number };
  epochs: { epoch: number; trainLoss: number; trainAccuracy: number; valLoss?: number; valAccuracy?: number }[];
  steps?: { epoch: number; loss: number }[];
}

/** `mcutrain build`'s reading of the linked image, with the board's capacities. */
export type BuildMemory = MemoryUsage & { flashCapacity: number; ramCapacity: number };

export interface ReportInputs {
  title?: string;
  plan?: PlanReport;
  profile?: ProfileData;
  history?: TrainingHistory;
  build?: BuildMemory;
  /** The benchmark suite's results (bench/results/*.json). */
  bench?: BenchResults;
  /** An SRAM budget drawn on the memory timeline. */
  budgetBytes?: number;
}

export function reportHtml(inputs: ReportInputs): string {
  const title = inputs.title ?? (inputs.plan ? `${inputs.plan.model} on ${inputs.plan.target}` : 'mcutrain report');
  const sections = [
    inputs.plan && planSection(inputs.plan, inputs.budgetBytes),
    (inputs.plan || inputs.build) && memorySection(inputs.plan, inputs.build),
    inputs.profile && profileSection(inputs.profile),
    inputs.history && historySection(inputs.history),
    inputs.bench && benchSection(inputs.bench),
  ].filter((s): s is string => Boolean(s));
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head><body>',
    `<h1>${escapeHtml(title)}</h1>`,
    sections.length ? sections.join('\n') : '<p>Nothing to report: give a plan, a profile, a training history, a build or benchmark results.</p>',
    '</body></html>',
    '',
  ].join('\n');
}

const CSS = [
  'body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1080px;color:#222;background:#fff}',
  'h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}',
  'table{border-collapse:collapse;font-size:12px}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left}',
  'td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}',
  'td{overflow-wrap:anywhere}td.n{white-space:nowrap;overflow-wrap:normal}',
  '.scroll{max-height:320px;overflow:auto;border:1px solid #eee}',
  '.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}',
  'figure{margin:0}',
].join('\n');

function planSection(r: PlanReport, budgetBytes: number | undefined): string {
  const phases = new Set(stepPhases(r.schedule));
  const legend = (['forward', 'loss', 'backward', 'update'] as const).filter((p) => phases.has(p))
    .map((p) => `<span style="background:${PHASE_COLOURS[p]}"></span>${p}`).join('');
  return [
    '<section id="memory-timeline">',
    `<h2>Memory timeline of a training step (scheme ${escapeHtml(r.scheme)})</h2>`,
    `<p>${escapeHtml(r.fit.summary)}. Training arena ${kib(r.trainArenaBytes)}, lower bound ${kib(r.trainLowerBoundBytes)} ` +
      `(ratio ${r.arenaToLowerBound.toFixed(3)}); peak at step ${r.peak.step}, ${escapeHtml(r.peak.call)}. Hover a buffer for its tensors.</p>`,
    `<p class="legend">phases:${legend}</p>`,
    memoryTimelineSvg(r, { budgetBytes }),
    '<h3>Arena buffers</h3>',
    '<div class="scroll">',
    table(['tensors', 'bytes', 'offset', 'first step', 'last step', 'live at peak'],
      r.buffers.map((b) => [b.tensors, b.bytes, b.offset, b.firstStep, b.lastStep, b.firstStep <= r.peak.step && r.peak.step <= b.lastStep ? 'yes' : '']), 'buffers'),
    '</div>',
    '<h3>Trained layers</h3>',
    r.trained.length
      ? table(['layer', 'op', 'kind', 'weights', 'bias', 'parameter bytes'], r.trained.map((l) => [l.layer, l.op, l.kind, l.weights, l.bias, l.paramBytes]), 'trained')
      : '<p>No layer is trained.</p>',
    `<p>MACs per step: forward ${r.macsForward.toLocaleString('en-US')}, backward ${r.macsBackward.toLocaleString('en-US')}; ` +
      `${r.differentiatedOps} of ${r.forwardOps} forward operators differentiated; ${r.schedule.length} steps.</p>`,
    '</section>',
  ].join('\n');
}

/** SRAM by part and Flash by section, against the board's capacity: the planner's figures, or the linked image's when built. */
function memorySection(plan: PlanReport | undefined, build: BuildMemory | undefined): string {
  const rows: { memory: string; part: string; bytes: number }[] = [];
  if (plan) {
    rows.push({ memory: 'SRAM (planned)', part: 'arena', bytes: plan.sram.arenaBytes }, ...fixedSramParts(plan).map((p) => ({ memory: 'SRAM (planned)', part: p.name, bytes: p.bytes })));
    rows.push({ memory: 'Flash (planned)', part: 'model constants', bytes: plan.flashBytes });
  }
  if (build) {
    rows.push({ memory: 'SRAM (linked)', part: '.data', bytes: build.data }, { memory: 'SRAM (linked)', part: '.bss, stack, arena', bytes: build.ramBytes - build.data });
    rows.push({ memory: 'Flash (linked)', part: '.text', bytes: build.text }, { memory: 'Flash (linked)', part: '.rodata', bytes: build.rodata }, { memory: 'Flash (linked)', part: '.data image', bytes: build.data });
  }
  const capacity = (m: string) => (m.startsWith('SRAM') ? build?.ramCapacity ?? plan?.fit.sram.capacityBytes : build?.flashCapacity ?? plan?.fit.flash.capacityBytes) ?? null;
  const memories = ['SRAM (planned)', 'SRAM (linked)', 'Flash (planned)', 'Flash (linked)'].filter((m) => rows.some((r) => r.memory === m));
  const totals = memories.map((m) => ({ memory: m, bytes: rows.filter((r) => r.memory === m).reduce((s, r) => s + r.bytes, 0), capacity: capacity(m) }));
  const svg = plotSvg({
    width: 1000,
    height: 60 + 40 * memories.length,
    marginLeft: 120,
    x: { ...BYTES_AS_KIB, grid: true },
    y: { label: null, domain: memories },
    color: { legend: true, scheme: 'tableau10' },
    marks: [
      Plot.barX(rows, { x: 'bytes', y: 'memory', fill: 'part', stroke: '#fff', title: (r: typeof rows[number]) => `${r.memory}: ${r.part} ${r.bytes.toLocaleString('en-US')} B` }),
      Plot.ruleX([0]),
    ],
  });
  return [
    '<section id="memory-breakdown">',
    '<h2>Flash and SRAM</h2>',
    svg,
    table(['memory', 'part', 'bytes'], rows.map((r) => [r.memory, r.part, r.bytes])),
    table(['memory', 'used', 'capacity', 'share'], totals.map((t) => [t.memory, t.bytes, t.capacity ?? 'no limit', t.capacity ? `${((t.bytes / t.capacity) * 100).toFixed(1)}%` : '-'])),
    '</section>',
  ].join('\n');
}

function profileSection(p: ProfileData): string {
  const ops = p.ops.map((o) => ({ ...o, name: `${o.index} ${o.kind}` }));
  const svg = plotSvg({
    width: 1000,
    height: 60 + 16 * ops.length,
    marginLeft: 200,
    marginRight: 50,
    x: { label: `${p.tickUnit} per inference`, grid: true },
    y: { label: null, domain: ops.map((o) => o.name) },
    marks: [
      Plot.barX(ops, { x: 'ticks', y: 'name', fill: '#4e79a7', title: (o: typeof ops[number]) => `op ${o.index} ${o.kind}: ${o.ticks.toLocaleString('en-US')} ${p.tickUnit} (${(o.share * 100).toFixed(1)}%), ${o.macs.toLocaleString('en-US')} MACs` }),
      Plot.text(ops, { x: 'ticks', y: 'name', text: (o: typeof ops[number]) => `${(o.share * 100).toFixed(1)}%`, textAnchor: 'start', dx: 4 }),
      Plot.ruleX([0]),
    ],
  });
  return [
    '<section id="latency">',
    `<h2>Per-operator latency on ${escapeHtml(p.device)}</h2>`,
    `<p>Median of ${p.runs} runs: ${p.totalTicks.toLocaleString('en-US')} ${escapeHtml(p.tickUnit)} per inference.</p>`,
    svg,
    '</section>',
  ].join('\n');
}

function historySection(h: TrainingHistory): string {
  const curves = [
    ...(h.before ? [{ epoch: 0, set: 'validation', loss: h.before.loss, accuracy: h.before.accuracy }] : []),
    ...h.epochs.flatMap((e) => [
    { epoch: e.epoch, set: 'train', loss: e.trainLoss, accuracy: e.trainAccuracy },
    ...(e.valLoss !== undefined ? [{ epoch: e.epoch, set: 'validation', loss: e.valLoss, accuracy: e.valAccuracy ?? NaN }] : []),
  ])];
  // every step's loss, placed within its epoch (epoch 1 spans 0..1), behind the per-epoch means
  const steps = h.steps ?? [];
  const perEpoch = new Map<number, number>();
  for (const s of steps) perEpoch.set(s.epoch, (perEpoch.get(s.epoch) ?? 0) + 1);
  const seen = new Map<number, number>();
  const stepPoints = steps.map((s) => {
    const k = seen.get(s.epoch) ?? 0;
    seen.set(s.epoch, k + 1);
    return { x: s.epoch - 1 + (k + 1) / perEpoch.get(s.epoch)!, loss: s.loss };
  });
  const chart = (y: 'loss' | 'accuracy') => plotSvg({
    width: 490,
    height: 300,
    x: { label: 'epoch', domain: [0, Math.max(1, ...h.epochs.map((e) => e.epoch))] },
    y: y === 'accuracy' ? { label: 'accuracy (%)', domain: [0, 100], grid: true } : { label: 'loss', grid: true, zero: true },
    color: { domain: ['train', 'validation'], range: ['#4e79a7', '#f28e2b'], legend: true },
    marks: [
      ...(y === 'loss' && stepPoints.length ? [Plot.line(stepPoints, { x: 'x', y: 'loss', stroke: '#bbb', strokeWidth: 0.8 })] : []),
      Plot.line(curves, { x: 'epoch', y: y === 'accuracy' ? (c: typeof curves[number]) => c.accuracy * 100 : 'loss', stroke: 'set', marker: 'circle' }),
    ],
  });
  return [
    '<section id="training">',
    `<h2>Training${h.device ? ` on ${escapeHtml(h.device)}` : ''}</h2>`,
    `<div style="display:flex;gap:20px">${chart('loss')}${chart('accuracy')}</div>`,
    table(['epoch', 'train loss', 'train accuracy', 'validation loss', 'validation accuracy'],
      [...(h.before ? [['0 (before)', '-', '-', h.before.loss.toFixed(4), `${(h.before.accuracy * 100).toFixed(1)}%`]] : []), ...h.epochs.map((e) => [e.epoch, e.trainLoss.toFixed(4), `${(e.trainAccuracy * 100).toFixed(1)}%`, e.valLoss?.toFixed(4) ?? '-', e.valAccuracy === undefined ? '-' : `${(e.valAccuracy * 100).toFixed(1)}%`])]),
    '</section>',
  ].join('\n');
}
