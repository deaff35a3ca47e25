/** The training section's readable tables: memory per scheme, compute on the emulated board, and the paper's anchors next to ours. */
import { formatTable } from '../src/util/table.ts';
import type { PlannedMemory, SchemeFigures, TargetFigures, TrainingModelFigures } from './training.ts';

const n = (x: number) => x.toLocaleString('en-US');
const times = (x: number) => `${x.toFixed(1)}x`;
/** The arena over its lower bound, as the planner gives them. */
export const arenaToLowerBound = (p: PlannedMemory) => p.arenaBytes / p.lowerBoundBytes;

const schemeRow = (m: TrainingModelFigures) => (s: SchemeFigures) => [
  m.model, s.name, n(s.paramBytes), n(s.reordered.arenaBytes), n(s.reordered.lowerBoundBytes), arenaToLowerBound(s.reordered).toFixed(3), s.reordered.peakIn,
  n(s.reordered.memoryBytes), n(s.reordered.sramTotalBytes), n(s.withoutReordering.arenaBytes), n(s.withoutReordering.lowerBoundBytes),
  arenaToLowerBound(s.withoutReordering).toFixed(3), n(s.withoutReordering.memoryBytes), times(s.withoutReordering.memoryBytes / s.reordered.memoryBytes), n(s.flashBytes),
];

export function formatTrainingMemory(models: TrainingModelFigures[]): string {
  // Budgets that fit nothing are the smallest: their rows go where their schemes would, after full update and bias-only.
  const rows = models.flatMap((m) => [
    ...m.schemes.slice(0, 2).map(schemeRow(m)),
    ...m.infeasibleBudgetsKib.map((kib) => [m.model, `sparse ${kib} KiB`, 'does not fit', ...Array<string>(12).fill('')]),
    ...m.schemes.slice(2).map(schemeRow(m)),
  ]);
  return formatTable(
    ['model', 'scheme', 'params B', 'arena B', 'lower bound B', 'arena/LB', 'peak in', 'memory B', 'SRAM total B',
      'arena B no-reorder', 'lower bound B no-reorder', 'arena/LB no-reorder', 'memory B no-reorder', 'no-reorder/reorder', 'Flash B'],
    rows, new Set([2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14]));
}

export function formatTrainingCompute(models: TrainingModelFigures[]): string {
  const rows = models.flatMap((m) => {
    const e = m.emulated;
    if (!e) return [];
    const stepMacs = e.macsStepForward + e.macsStepBackward;
    return [[
      m.model, e.schemeName, n(e.macsInference), n(stepMacs), n(e.m7PortableInstructionsPerInference), n(e.m7DspInstructionsPerInference),
      n(e.m7PortableInstructionsPerStep), n(e.m7DspInstructionsPerStep), (e.m7DspInstructionsPerStep / stepMacs).toFixed(2), n(e.compileMs),
    ]];
  });
  return formatTable(
    ['model', 'scheme', 'MACs/inf', 'MACs/step', 'M7 instr/inf portable', 'M7 instr/inf DSP', 'M7 instr/step portable', 'M7 instr/step DSP',
      'DSP instr/MAC step', 'compile ms'],
    rows, new Set([2, 3, 4, 5, 6, 7, 8, 9]));
}

export function formatTrainingAnchors(models: TrainingModelFigures[]): string {
  const rows = models.flatMap((m) => m.ratios.map((r) => [
    m.model, r.sparse, times(r.sparseVsFull), '7-9x', times(r.reordering), '2.4-3.2x', times(r.together), '20-21x',
  ]));
  const table = formatTable(['model', 'sparse scheme', 'sparse vs full', 'paper', 'reordering', 'paper', 'together', 'paper'], rows, new Set([2, 3, 4, 5, 6, 7]));
  const notes: string[] = [];
  const mbv2 = models.find((m) => m.model.startsWith('mobilenetv2'));
  const mbv2Sparse = mbv2?.schemes.find((s) => s.name === mbv2.ratios[0]?.sparse);
  if (mbv2 && mbv2Sparse) {
    notes.push(`MobileNetV2-w0.35: paper 141 KB with TinyEngine (303 MB in PyTorch); here ${n(mbv2Sparse.reordered.memoryBytes)} B ` +
      `(arena ${n(mbv2Sparse.reordered.arenaBytes)} B + params ${n(mbv2Sparse.paramBytes)} B) for the ${mbv2Sparse.name} scheme, ` +
      `${n(mbv2.schemes[0].withoutReordering.memoryBytes)} B for full update without reordering`);
  }
  for (const m of models) {
    const te = m.schemes.find((s) => s.name.startsWith('TinyEngine'));
    if (!te) continue;
    notes.push(`${m.model}, TinyEngine's 49 KB scheme: TinyEngine plans 189,800 B; here arena ${n(te.reordered.arenaBytes)} B ` +
      `(lower bound ${n(te.reordered.lowerBoundBytes)} B, peak in the ${te.reordered.peakIn} pass; inference arena ${n(m.inferenceArenaBytes)} B), ` +
      `trained tensors ${n(te.paramBytes)} B in SRAM (TinyEngine's updated parameters: 32,104 B)`);
  }
  const basis = models.flatMap((m) => m.ratios)[0]?.basis;
  if (basis) notes.push(`basis of the ratios: ${basis}`);
  return [table, ...notes.map((s) => `- ${s}`)].join('\n');
}

/** Issue 11's memory targets: the measured figure, the limit, met or not. */
export function formatTrainingTargets(targets: TargetFigures[]): string {
  return formatTable(['target', 'measured', 'measured B', 'limit B', 'met', 'reference'],
    targets.map((t) => [t.target, t.measured, n(t.measuredBytes), n(t.limitBytes), t.met ? 'met' : 'not met', t.reference]), new Set([2, 3]));
}
