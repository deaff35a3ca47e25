/** The HTML report's content, read back from its markup: what each chart marks is where the plan says. */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseHTML } from 'linkedom';
import { beforeAll, describe, expect, it } from 'vitest';
import { PLAN_COMMAND, planModel } from '../../src/cli/compile_command.ts';
import { REPORT_COMMAND } from '../../src/cli/report_command.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { McutrainError } from '../../src/errors.ts';
import { stepPhases } from '../../src/report/memory_timeline.ts';
import { readBenchJson, readHistoryJson, readProfileJson } from '../../src/report/read_inputs.ts';
import { reportHtml, type ProfileData, type TrainingHistory } from '../../src/report/report_html.ts';
import type { PlanReport } from '../../src/project/plan_report.ts';
import { model, REPO, tempDir } from '../helpers/paths.ts';

const SCHEME = 'bias:last=4,weights:layers=-1@1/4';
const BUDGET = 96 * 1024;

let plan: PlanReport;
let onBoard: Document;

const doc = (html: string) => parseHTML(html).document as unknown as Document;
/** A section's charts: its wide SVGs (a legend's swatches are small ones). */
const chartsIn = (d: Document, section: string) => [...d.querySelectorAll(`${section} svg`)].filter((s) => Number(s.getAttribute('width')) > 100);
const timelineOf = (d: Document) => chartsIn(d, '#memory-timeline')[0];
const num = (e: Element, attr: string) => Number(e.getAttribute(attr));
/** The translate() of an element's transform attribute. */
const translate = (e: Element) => (/translate\(([-\d.e]+),([-\d.e]+)\)/.exec(e.getAttribute('transform') ?? '') ?? []).slice(1).map(Number);

/** The y axis's pixel for a value in KiB, interpolated between two of its tick labels (the scale is linear). */
function yPixelOf(svg: Element, kib: number): number {
  const ticks = [...svg.querySelectorAll('g[aria-label="y-axis tick label"] text')].map((t) => ({ value: Number(t.textContent!.replace(/,/g, '')), y: translate(t)[1] }));
  expect(ticks.length).toBeGreaterThan(3);
  const [a, b] = [ticks[0], ticks[ticks.length - 1]];
  return a.y + ((kib - a.value) / (b.value - a.value)) * (b.y - a.y);
}

beforeAll(() => {
  plan = planModel(model('vww96_int8.tflite'), { train: SCHEME, target: 'nrf52840-dk', numerics: 'tflm' }).report;
  onBoard = doc(reportHtml({ plan, budgetBytes: BUDGET }));
});

describe('the memory timeline', () => {
  it('marks the peak at the plan\'s peak step, at the top of the training arena', () => {
    const svg = timelineOf(onBoard);
    const strip = [...svg.querySelectorAll('rect')].find((r) => r.querySelector('title')?.textContent?.startsWith(`step ${plan.peak.step}: `))!;
    expect(strip).toBeDefined();
    const rule = svg.querySelector('g.peak-marker line')!;
    expect(num(rule, 'x1')).toBeCloseTo(num(strip, 'x') + num(strip, 'width') / 2, 6);
    const dot = [...svg.querySelectorAll('circle')].find((c) => c.querySelector('title')?.textContent === `peak at step ${plan.peak.step}: ${plan.peak.call}`)!;
    expect(num(dot, 'cx')).toBeCloseTo(num(rule, 'x1'), 6);
    const arenaTop = (plan.sram.totalBytes - plan.sram.arenaBytes + plan.trainArenaBytes) / 1024;
    expect(num(dot, 'cy')).toBeCloseTo(yPixelOf(svg, arenaTop), 1);
  });

  it('draws the budget and the board\'s SRAM as lines at their values', () => {
    const svg = timelineOf(onBoard);
    const lines = [...svg.querySelectorAll('g.sram-line line')];
    expect(lines.map((l) => num(l, 'y1'))).toEqual([yPixelOf(svg, 256), yPixelOf(svg, BUDGET / 1024)].map((y) => expect.closeTo(y, 1)));
    expect(plan.fit.sram.capacityBytes).toBe(256 * 1024);
    const labels = [...svg.querySelectorAll('text')].map((t) => t.textContent);
    expect(labels).toContain('board SRAM 256.0 KiB');
    expect(labels).toContain('budget 96.0 KiB');
  });

  it('notes a board SRAM far above the plan instead of squashing the chart under it', () => {
    const svg = timelineOf(doc(reportHtml({ plan: { ...plan, fit: { ...plan.fit, sram: { ...plan.fit.sram, capacityBytes: 4 << 20 } } } })));
    expect(svg.querySelectorAll('g.sram-line line').length).toBe(0);
    expect(svg.querySelector('g.off-scale text')!.textContent).toBe('board SRAM 4096.0 KiB: above the chart');
  });

  it('names every arena buffer on hover and in the table, one row per buffer of the plan', () => {
    const hovers = [...timelineOf(onBoard).querySelectorAll('rect title')].map((t) => t.textContent!).filter((t) => t.includes(' at arena offset '));
    expect(hovers).toEqual(plan.buffers.map((b) => `${b.tensors}\n${b.bytes} B at arena offset ${b.offset}, steps ${b.firstStep}..${b.lastStep}`));
    const rows = [...onBoard.querySelectorAll('table.buffers tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
    expect(rows.map((r) => r[0])).toEqual(plan.buffers.map((b) => b.tensors));
    expect(rows.filter((r) => r[5] === 'yes').length).toBe(plan.buffers.filter((b) => b.firstStep <= plan.peak.step && plan.peak.step <= b.lastStep).length);
  });

  it('labels the forward, backward and update phases', () => {
    const phases = stepPhases(plan.schedule);
    const loss = phases.indexOf('loss');
    expect(plan.schedule[loss].call.startsWith('loss')).toBe(true);
    expect(phases.slice(0, loss).every((p) => p === 'forward')).toBe(true);
    expect(phases.filter((p) => p === 'update').length).toBe(plan.schedule.filter((s) => /_update/.test(s.call)).length);
    expect(phases.filter((p) => p === 'update').length).toBeGreaterThan(0);
    const labels = [...timelineOf(onBoard).querySelectorAll('g.phase-label text')].map((t) => t.textContent);
    expect(labels.sort()).toEqual(['backward', 'forward', 'update']);
  });

  it('has axes with tick labels', () => {
    const svg = timelineOf(onBoard);
    expect(svg.querySelectorAll('g[aria-label="x-axis tick label"] text').length).toBeGreaterThan(3);
    expect(svg.querySelector('g[aria-label="y-axis label"] text')!.textContent).toContain('SRAM (KiB)');
  });
});

describe('the report page', () => {
  it('is self-contained: no script, no external resource', () => {
    const html = reportHtml({ plan });
    expect(html).not.toMatch(/<script|\bsrc=|\bhref=|url\(|@import/i);
    expect(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '')).not.toMatch(/https?:/);
  });

  it('lists the plan\'s trained layers and its Flash and SRAM parts', () => {
    const rows = [...onBoard.querySelectorAll('table.trained tbody tr')].map((tr) => Number(tr.querySelector('td')!.textContent));
    expect(rows).toEqual(plan.trained.map((l) => l.layer));
    const parts = [...onBoard.querySelectorAll('#memory-breakdown table')][0];
    const sram = [...parts.querySelectorAll('tbody tr')].filter((tr) => tr.querySelector('td')!.textContent === 'SRAM (planned)')
      .reduce((s, tr) => s + Number(tr.querySelectorAll('td')[2].textContent!.replace(/,/g, '')), 0);
    expect(sram).toBe(plan.sram.totalBytes);
  });

  it('draws one latency bar per operator and the loss and accuracy per epoch', () => {
    const profile: ProfileData = {
      target: 'host', device: 'host engine', runs: 3, tickUnit: 'ns', totalTicks: 600,
      ops: [{ index: 0, kind: 'CONV_2D', macs: 100, ticks: 400, share: 0.4 }, { index: 1, kind: 'SOFTMAX', macs: 0, ticks: 200, share: 0.2 }, { index: 2, kind: 'FULLY_CONNECTED', macs: 10, ticks: 400, share: 0.4 }],
    };
    const history: TrainingHistory = {
      epochs: [1, 2, 3].map((epoch) => ({ epoch, trainLoss: 1 / epoch, trainAccuracy: epoch / 4, valLoss: 1.2 / epoch, valAccuracy: epoch / 5 })),
      steps: [1, 1, 2, 2, 3, 3].map((epoch, i) => ({ epoch, loss: 1 / (i + 1) })),
    };
    const d = doc(reportHtml({ profile, history }));
    const bars = [...d.querySelectorAll('#latency rect title')].map((t) => t.textContent);
    expect(bars).toEqual(['op 0 CONV_2D: 400 ns (40.0%), 100 MACs', 'op 1 SOFTMAX: 200 ns (20.0%), 0 MACs', 'op 2 FULLY_CONNECTED: 400 ns (40.0%), 10 MACs']);
    const charts = chartsIn(d, '#training');
    expect(charts.length).toBe(2);
    // per chart: the train and validation curves (three points each); the loss chart also every step's loss
    const paths = (svg: Element) => [...svg.querySelectorAll('g[aria-label="line"] path')].map((p) => (p.getAttribute('d')!.match(/[ML]/g) ?? []).length);
    expect(paths(charts[0])).toEqual([6, 3, 3]);
    expect(paths(charts[1])).toEqual([3, 3]);
    expect(d.querySelectorAll('#training table tbody tr').length).toBe(3);
    expect(d.querySelector('#memory-timeline')).toBeNull();
  });
});

describe('the benchmark section', () => {
  it('draws two bars per model and two per training scheme, from the committed results', () => {
    const bench = readBenchJson(path.join(REPO, 'bench/results/latest.json'));
    const d = doc(reportHtml({ bench }));
    const [memory, instructions, training] = chartsIn(d, '#bench');
    const bars = (svg: Element) => [...svg.querySelectorAll('g[aria-label="bar"] rect title')].map((t) => t.textContent);
    expect(bars(memory)).toEqual(bench.rows.flatMap((r) => [`${r.model}: SRAM arena ${r.arenaBytes.toLocaleString('en-US')} B`, `${r.model}: Flash constants ${r.flashConstBytes.toLocaleString('en-US')} B`]));
    expect(bars(instructions).length).toBe(2 * bench.rows.length);
    const schemes = bench.training!.models.flatMap((m) => m.schemes);
    expect(bars(training).length).toBe(2 * schemes.length);
    expect(bars(training)[0]).toBe(`${bench.training!.models[0].model}: ${schemes[0].name}, reordered: ${schemes[0].reordered.memoryBytes.toLocaleString('en-US')} B`);
    expect(d.querySelectorAll('table.bench-inference tbody tr').length).toBe(bench.rows.length);
  });
});

describe('the report\'s input files', () => {
  it('refuses a file that is not a profile or a training history, naming it', () => {
    const dir = tempDir('report-inputs');
    const file = path.join(dir, 'train.json');
    writeFileSync(file, JSON.stringify({ epochs: [{ epoch: 1, trainLoss: 'low' }] }));
    expect(() => readHistoryJson(file)).toThrow(McutrainError);
    expect(() => readHistoryJson(file)).toThrow(`'${file}' is not a training history`);
    expect(() => readProfileJson(file)).toThrow(`'${file}' is not a profile`);
    expect(() => readBenchJson(file)).toThrow(`'${file}' is not benchmark results`);
    writeFileSync(file, '{"epochs": [');
    expect(() => readHistoryJson(file)).toThrow('is not JSON');
  });
});

describe('mcutrain plan --report, --svg', () => {
  it('writes the report and the memory timeline as an SVG file of its own', async () => {
    const dir = tempDir('report-plan');
    const [html, svg] = [path.join(dir, 'plan.html'), path.join(dir, 'plan.svg')];
    expect(await PLAN_COMMAND.run([model('vww96_int8.tflite')], { train: SCHEME, target: 'nrf52840-dk', numerics: 'tflm', report: html, svg })).toBe(0);
    const d = doc(readFileSync(html, 'utf8'));
    expect(d.querySelectorAll('table.buffers tbody tr').length).toBe(plan.buffers.length);
    const file = readFileSync(svg, 'utf8');
    expect(file.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(file).toContain('blue activations, red gradients, violet scratch');
    expect(file).toContain(`peak: step ${plan.peak.step},`);
  });
});

describe('mcutrain report', () => {
  it('reports a compiled project with the plan of the scheme it was compiled with', async () => {
    const dir = tempDir('report-project');
    const project = path.join(dir, 'proj');
    compileModel({ modelPath: model('vww96_int8.tflite'), target: 'nrf52840-dk', outDir: project, train: { scheme: SCHEME } });
    const out = path.join(dir, 'report.html');
    expect(await REPORT_COMMAND.run([project], { out, numerics: 'tflm' })).toBe(0);
    const fromProject = doc(readFileSync(out, 'utf8'));
    expect([...fromProject.querySelectorAll('table.buffers tbody tr')].length).toBe(plan.buffers.length);
    expect(fromProject.querySelector('h1')!.textContent).toBe(`vww96_int8.tflite on nrf52840-dk (${project})`);
    await expect(REPORT_COMMAND.run([project], { out, train: 'bias:last=1' })).rejects.toThrow('is a project, whose scheme and target are its own');
    await expect(REPORT_COMMAND.run([model('vww96_int8.tflite')], { out })).rejects.toThrow('the report of a model is its training plan');
    await expect(REPORT_COMMAND.run([], { out })).rejects.toThrow('nothing to report');
    await expect(REPORT_COMMAND.run([project], {})).rejects.toThrow('report needs an output file');
  });
});
