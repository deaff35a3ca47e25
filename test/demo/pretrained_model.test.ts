/**
 * The shipped pretrained model (models/mnist04_int8.tflite) is the one models/README.md documents: its
 * hash, its shape, and the accuracy of its int8 engine on the held-out digits 0-4, measured with
 * `mcutrain eval` on host builds: the inference engine (INFER, the loss computed by eval) and the
 * training engine (EVALUATE, the engine's own loss) must agree sample for sample.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProjectAsync } from '../../src/build/build_project.ts';
import type { EvalReport } from '../../src/cli/eval_command.ts';
import { importTfliteFile } from '../../src/import/import_tflite.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { writeDigitFolder } from '../../scripts/demo_data.ts';
import { PRETRAINED_MODEL, pretrainedSplits } from '../../scripts/make_pretrained.ts';
import { cli, cliAsync } from '../helpers/cli.ts';
import { REPO, tempDir } from '../helpers/paths.ts';

const documented = readFileSync(path.join(REPO, 'models/README.md'), 'utf8');
let root: string;
let digits: string;

beforeAll(() => {
  root = tempDir('pretrained');
  digits = path.join(root, 'digits04');
  writeDigitFolder(digits, pretrainedSplits().sourceTest, 0);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function evalJson(project: string): Promise<EvalReport> {
  const r = await cliAsync('eval', project, '--data', digits, '--json');
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as EvalReport;
}

describe('models/mnist04_int8.tflite', () => {
  it('is the file models/README.md documents, with the documented shape', () => {
    const sha = createHash('sha256').update(readFileSync(PRETRAINED_MODEL)).digest('hex');
    expect(documented).toContain(`sha256 \`${sha}\``);
    const graph = importTfliteFile(PRETRAINED_MODEL);
    const io = (id: number) => `${graph.tensors[id].dtype}[${graph.tensors[id].shape.join(',')}]`;
    expect(graph.inputs.map(io)).toEqual(['int8[1,28,28,1]']);
    expect(graph.outputs.map(io)).toEqual(['int8[1,5]']);
    expect(graph.operators).toHaveLength(10);
    expect(documented).toContain('input `input` int8[1,28,28,1]');
    expect(documented).toContain('output `classifier` int8[1,5]');
  });

  it('reaches the documented accuracy on the held-out digits 0-4, on the inference and the training engine alike', async () => {
    const [, correct, samples] = /classifies (\d+) of (\d+) held-out digits 0-4/.exec(documented) ?? [];
    expect(correct).toBeDefined();
    const inference = path.join(root, 'inference');
    const training = path.join(root, 'training');
    compileModel({ modelPath: PRETRAINED_MODEL, target: 'host', outDir: inference });
    compileModel({ modelPath: PRETRAINED_MODEL, target: 'host', outDir: training, train: { scheme: 'bias:last=1' } });
    await Promise.all([buildProjectAsync(inference), buildProjectAsync(training)]);

    const byInfer = await evalJson(inference);
    expect(byInfer.engine).toBe('inference');
    expect([byInfer.correct, byInfer.samples]).toEqual([Number(correct), Number(samples)]);
    expect(byInfer.classes.map((c) => c.name)).toEqual(['digit0', 'digit1', 'digit2', 'digit3', 'digit4']);
    expect(byInfer.classes.reduce((s, c) => s + c.correct, 0)).toBe(byInfer.correct);

    const byEvaluate = await evalJson(training);
    expect(byEvaluate.engine).toBe('training');
    expect(byEvaluate.classes).toEqual(byInfer.classes);
    // The same int8 logits, the loss taken on the device (float32) and by eval (float64).
    expect(Math.abs(byEvaluate.loss - byInfer.loss)).toBeLessThan(1e-4);
    expect(byInfer.loss).toBeGreaterThan(0);
  });

  it('eval names what is missing', () => {
    const r = cli('eval', path.join(root, 'inference'));
    expect(r.code).toBe(2); // a usage error (README: exit codes)
    expect(r.err).toMatch(/eval needs labelled data[\s\S]*hint: add --data <folder>/);
  });
});
