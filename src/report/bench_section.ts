/**
 * The benchmark suite's results (bench/results/*.json) in the report: per model, the inference engine's
 * SRAM, Flash and instructions, and each training scheme's planned memory with and without reordering.
 */
import { escapeHtml, table } from './html.ts';
import { BYTES_AS_KIB, Plot, plotSvg } from './plot_svg.ts';

/** What the report reads of bench/run.ts's JSON. */
export interface BenchResults {
  date?: string;
  rows: { model: string; macs: number; arenaBytes: number; flashConstBytes: number; m7PortableInstructionsPerInference: number; m7DspInstructionsPerInference: number }[];
  training?: { models: { model: string; schemes: { name: string; reordered: { memoryBytes: number }; withoutReordering: { memoryBytes: number } }[] }[] };
}


/** Grouped horizontal bars: one group per `group`, one bar per `series` within it. */
function groupedBars(rows: { group: string; series: string; value: number }[], x: { label: string; transform?: (v: number) => number }, title: (r: { group: string; series: string; value: number }) => string): string {
  const series = [...new Set(rows.map((r) => r.series))];
  return plotSvg({
    width: 1000,
    height: 40 + rows.length * 14 + new Set(rows.map((r) => r.group)).size * 10,
    marginLeft: 260,
    marginRight: 30,
    x: { ...x, grid: true },
    y: { label: null, domain: series, axis: null },
    fy: { label: null, padding: 0.25, domain: [...new Set(rows.map((r) => r.group))] },
    color: { domain: series, scheme: 'tableau10', legend: true },
    marks: [
      Plot.barX(rows, { x: 'value', y: 'series', fy: 'group', fill: 'series', title }),
      Plot.ruleX([0]),
    ],
  });
}

export function benchSection(b: BenchResults): string {
  const parts = ['<section id="bench">', `<h2>Benchmarks${b.date ? ` (${escapeHtml(b.date)})` : ''}</h2>`];
  if (b.rows.length) {
    const memory = b.rows.flatMap((r) => [
      { group: r.model, series: 'SRAM arena', value: r.arenaBytes },
      { group: r.model, series: 'Flash constants', value: r.flashConstBytes },
    ]);
    const instructions = b.rows.flatMap((r) => [
      { group: r.model, series: 'portable kernels', value: r.m7PortableInstructionsPerInference },
      { group: r.model, series: 'DSP kernels', value: r.m7DspInstructionsPerInference },
    ]);
    parts.push('<h3>Inference: memory per model</h3>',
      groupedBars(memory, BYTES_AS_KIB, (r) => `${r.group}: ${r.series} ${r.value.toLocaleString('en-US')} B`),
      '<h3>Inference: instructions per inference on the emulated Cortex-M7</h3>',
      groupedBars(instructions, { label: 'instructions' }, (r) => `${r.group}: ${r.series} ${r.value.toLocaleString('en-US')} instructions`),
      table(['model', 'MACs', 'arena bytes', 'Flash constant bytes', 'M7 instructions (portable)', 'M7 instructions (DSP)'],
        b.rows.map((r) => [r.model, r.macs, r.arenaBytes, r.flashConstBytes, r.m7PortableInstructionsPerInference, r.m7DspInstructionsPerInference]), 'bench-inference'));
  }
  const models = b.training?.models ?? [];
  if (models.length) {
    const rows = models.flatMap((m) => m.schemes.flatMap((s) => [
      { group: `${m.model}: ${s.name}`, series: 'reordered', value: s.reordered.memoryBytes },
      { group: `${m.model}: ${s.name}`, series: 'without reordering', value: s.withoutReordering.memoryBytes },
    ]));
    parts.push('<h3>Training: planned memory per scheme (arena + trained parameters + momentum)</h3>',
      groupedBars(rows, BYTES_AS_KIB, (r) => `${r.group}, ${r.series}: ${r.value.toLocaleString('en-US')} B`));
  }
  parts.push('</section>');
  return parts.join('\n');
}
