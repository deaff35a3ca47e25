/**
 * The compile-time half of training: scheme parsing, resolving a scheme on a real model, the derived
 * and pruned backward schedule, and the memory plan of a training step (exact figures).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { McutrainError } from '../../src/errors.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import { lowerGraph } from '../../src/lower/lower.ts';
import { analyzeModel } from '../../src/pipeline/pipeline.ts';
import { loadTarget } from '../../src/targets/target.ts';
import { analyzeTraining } from '../../src/train/analyze_training.ts';
import { deriveBackward } from '../../src/train/autodiff.ts';
import { gradFactors } from '../../src/train/lower_backward.ts';
import { makePlanReport } from '../../src/project/plan_report.ts';
import { memoryTimelineSvg } from '../../src/report/memory_timeline.ts';
import { parseScheme, schemeToString } from '../../src/train/scheme.ts';
import { planTraining } from '../../src/train/training_graph.ts';
import { model, tempDir } from '../helpers/paths.ts';

const vww = () => importTflite(new Uint8Array(readFileSync(model('vww96_int8.tflite'))), 'vww96_int8.tflite');

describe('training schemes', () => {
  it('reads the inline form, with channel fractions and options', () => {
    const s = parseScheme('bias:last=8,weights:layers=21,24@0.25,3@1/2,7,qas=off,momentum=0.9,lr=0.01');
    expect(s).toEqual({
      biasLast: 8,
      weights: [{ layer: 21, fraction: 0.25 }, { layer: 24, fraction: 0.25 }, { layer: 3, fraction: 0.5 }, { layer: 7, fraction: 1 }],
      qas: false, momentum: 0.9, lr: 0.01,
    });
    expect(parseScheme(schemeToString(s))).toEqual(s);
  });

  it('reads JSON, inline or from a file, with the same defaults', () => {
    const dir = tempDir('scheme');
    const file = path.join(dir, 'scheme.json');
    writeFileSync(file, JSON.stringify({ bias: { last: 2 }, weights: [{ layer: -1, fraction: '1/8' }] }));
    const expected = { biasLast: 2, weights: [{ layer: -1, fraction: 0.125 }], qas: true, momentum: 0, lr: 0.05 };
    expect(parseScheme(file)).toEqual(expected);
    expect(parseScheme(readFileSync(file, 'utf8'))).toEqual(expected);
  });

  it.each([
    ['', /empty/],
    ['bias:first=2', /cannot read 'bias:first=2'/],
    ['weights:layers=3@0.3', /fraction 0.3 of layer 3 is not one of/],
    ['bias:last=1,momentum=1', /momentum 1 must lie in \[0, 1\)/],
    ['qas=off', /trains nothing/],
    ['{"bias": {"last": 1}, "epochs": 3}', /unknown field\(s\) epochs/],
    ['missing.json', /does not exist/],
  ])('rejects %j clearly', (text, message) => {
    expect(() => parseScheme(text)).toThrow(McutrainError);
    expect(() => parseScheme(text)).toThrow(message);
  });
});

describe('a scheme on vww96_int8', () => {
  const graph = vww();

  it('finds the logits under the SOFTMAX and counts weighted layers', () => {
    const tg = planTraining(graph, parseScheme('bias:last=1'));
    expect(tg.classes).toBe(2);
    expect(tg.weightedLayers).toHaveLength(28);
    expect(tg.weightedLayers[27].kind).toBe('FULLY_CONNECTED');
    expect(graph.operators.find((op) => op.inputs[0] === tg.logits.id)?.kind).toBe('SOFTMAX');
    expect(tg.forward.some((op) => op.kind === 'SOFTMAX')).toBe(false);
  });

  it('rejects layers the model does not have', () => {
    expect(() => planTraining(graph, parseScheme('weights:layers=28'))).toThrow(/has 28 weighted layers \(0 to 27, or -1 to -28\)/);
    expect(() => planTraining(graph, parseScheme('bias:last=29'))).toThrow(/asks for more layers than 'vww96_int8.tflite' has \(28\)/);
  });

  it('prunes the backward pass to what the scheme needs', () => {
    // Bias of the classifier only: no input gradient anywhere.
    const biasOnly = deriveBackward(planTraining(graph, parseScheme('bias:last=1')));
    expect(biasOnly.ops.map((o) => o.kind)).toEqual(['loss', 'mask', 'update_bias']);

    // Weights of the last conv: gradients flow back through FC and pool to it, and stop there.
    const tg = planTraining(graph, parseScheme('weights:layers=-2'));
    const b = deriveBackward(tg);
    const conv = tg.weightedLayers[26];
    expect(b.ops.map((o) => `${o.kind}${'op' in o ? ` ${o.op.kind}` : ''}`)).toEqual([
      'loss', 'mask FULLY_CONNECTED', 'grad_input FULLY_CONNECTED', 'alias RESHAPE', 'mask AVERAGE_POOL_2D', 'grad_input AVERAGE_POOL_2D',
      'mask CONV_2D', 'update_weights',
    ]);
    expect(b.differentiated.map((op) => op.id)).toEqual([29, 28, 27, conv.id]);
    // The input gradient is computed with the old weights: the update comes after it, per layer.
    const kinds = deriveBackward(planTraining(graph, parseScheme('weights:layers=-1,bias:last=1'))).ops.map((o) => o.kind);
    expect(kinds.indexOf('update_weights')).toBeGreaterThan(kinds.indexOf('mask'));
    expect(kinds).not.toContain('grad_input');
  });

  it('plans the training step in one arena, with exact figures', () => {
    const calls = lowerGraph(graph);
    const bias = analyzeTraining(graph, calls, parseScheme('bias:last=4'));
    expect(bias.plan.arenaBytes).toBe(55_296);
    expect(bias.plan.lowerBoundBytes).toBe(55_296);
    expect(bias.params.map((p) => p.bytes)).toEqual([1024, 1024, 1024, 8]);
    const deep = analyzeTraining(graph, calls, parseScheme('bias:last=28'));
    expect(deep.plan.arenaBytes).toBe(225_792);
    expect(deep.plan.lowerBoundBytes).toBe(225_792);
    // Momentum keeps one float per trained parameter.
    const m = analyzeTraining(graph, calls, parseScheme('weights:layers=-1@1/2,bias:last=1,momentum=0.9'));
    expect(m.params.map((p) => [p.kind, p.channels, p.momentumFloats])).toEqual([['weights', 1, 256], ['bias', 2, 2]]);
    expect(m.momentumBytes).toBe(4 * 258);
  });

  it('scales gradients for QAS by 1/s, and by s without', () => {
    expect(gradFactors([0.5, 0.25, 0], true)).toEqual([2, 4, 0]);
    expect(gradFactors([0.5, 0.25, 0], false)).toEqual([0.5, 0.25, 0]);
  });

  it('reports the plan with a lifetime chart', () => {
    const a = analyzeModel(new Uint8Array(readFileSync(model('vww96_int8.tflite'))), 'vww96', 'tflm', parseScheme('weights:layers=-2,bias:last=2'));
    const r = makePlanReport(a, a.training!, loadTarget('mps2-an500'));
    expect(r.trainArenaBytes).toBe(a.training!.plan.arenaBytes);
    expect(r.arenaToLowerBound).toBeGreaterThanOrEqual(1);
    expect(r.trained.map((l) => [l.layer, l.weights, l.bias])).toEqual([[26, '256/256 channels', 'trained'], [27, 'frozen', 'trained']]);
    const svg = memoryTimelineSvg(r, { standalone: true });
    expect(svg.startsWith('<svg')).toBe(true);
    expect((svg.match(/ at arena offset /g) ?? []).length).toBe(r.buffers.length);
  });
});
