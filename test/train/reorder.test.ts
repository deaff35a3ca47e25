/**
 * Operator reordering, measured: the same scheme planned in the engine's order (each update in place,
 * right after its gradient) and in the conventional order (every weight/bias gradient buffered, all
 * updates after the backward pass), which exists for the planner only. Exact figures on vww96_int8.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { McutrainError } from '../../src/errors.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import { tensorBytes } from '../../src/ir/graph.ts';
import { lowerGraph } from '../../src/lower/lower.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { analyzeTraining } from '../../src/train/analyze_training.ts';
import { deriveBackward } from '../../src/train/autodiff.ts';
import { parseScheme } from '../../src/train/scheme.ts';
import { planTraining } from '../../src/train/training_graph.ts';
import { model, tempDir } from '../helpers/paths.ts';

const graph = importTflite(new Uint8Array(readFileSync(model('vww96_int8.tflite'))), 'vww96_int8.tflite');
const calls = lowerGraph(graph);
/** Trains weights of three late layers (two at a quarter of their channels) and 20 biases: the reordered peak lies in the backward pass. */
const SCHEME = 'bias:last=20,weights:layers=-1,-2@1/4,-4@1/4';

describe('without operator reordering', () => {
  it('buffers each trained tensor\'s gradient and applies every update after the backward pass', () => {
    const b = deriveBackward(planTraining(graph, parseScheme('weights:layers=-2@1/4,bias:last=2')), { reorder: false });
    expect(b.ops.map((o) => o.kind)).toEqual([
      'loss', 'mask', 'grad_input', 'param_grad', 'alias', 'mask', 'grad_input', 'mask', 'param_grad', 'param_grad', 'apply_update', 'apply_update', 'apply_update',
    ]);
    // The weight gradient covers the trained channels only: 64 of 256 output channels of a 1x1 conv on 256 inputs.
    const grads = b.ops.flatMap((o) => (o.kind === 'param_grad' ? [b.graph.tensors[o.grad]] : []));
    expect(grads.map((t) => [t.dtype, t.shape])).toEqual([['float32', [2]], ['float32', [64, 1, 1, 256]], ['float32', [256]]]);
  });

  it('needs more memory: at least the largest gradient buffer more when the peak is in the backward pass', () => {
    const reordered = analyzeTraining(graph, calls, parseScheme(SCHEME));
    const conventional = analyzeTraining(graph, calls, parseScheme(SCHEME), { reorder: false });
    expect(reordered.plan.peakStep).toBeGreaterThan(reordered.forwardCalls.length);
    const largestGrad = Math.max(...conventional.backwardOps.flatMap((o) => (o.kind === 'param_grad' ? [tensorBytes(conventional.graph.tensors[o.grad])] : [])));
    expect(largestGrad).toBe(65_536);
    expect([reordered.plan.arenaBytes, reordered.plan.lowerBoundBytes]).toEqual([76_032, 76_032]);
    expect([conventional.plan.arenaBytes, conventional.plan.lowerBoundBytes]).toEqual([185_104, 185_104]);
    expect(conventional.plan.lowerBoundBytes - reordered.plan.lowerBoundBytes).toBeGreaterThanOrEqual(largestGrad);
    // Same parameters, same Flash constants: only the schedule differs.
    expect(conventional.paramBytes).toBe(reordered.paramBytes);
    expect(conventional.macsForward).toBe(reordered.macsForward);
  });

  it('never needs less, for any scheme', () => {
    for (const s of ['bias:last=1', 'bias:last=28', 'weights:layers=-1,-2,-3,-4,-5,bias:last=5']) {
      const r = analyzeTraining(graph, calls, parseScheme(s));
      const c = analyzeTraining(graph, calls, parseScheme(s), { reorder: false });
      expect(c.plan.lowerBoundBytes).toBeGreaterThanOrEqual(r.plan.lowerBoundBytes);
    }
  });

  it('is a figure to compare, which compile refuses to emit', () => {
    const compile = () => compileModel({
      modelPath: model('vww96_int8.tflite'), target: 'host', outDir: tempDir('noreorder'), train: { scheme: SCHEME, reorder: false },
    });
    expect(compile).toThrow(McutrainError);
    expect(compile).toThrow(/without operator reordering is a memory figure for comparison/);
  });
});
