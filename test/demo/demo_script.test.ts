/**
 * `npm run demo` works from a bare clone: scripts/demo.sh reads nothing outside the repository (no
 * ../shared/models), every repository file it names is tracked by git, and its data folders feed
 * the pretrained model exactly the digits' pixels as the model's input quantization asks.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readLabelledFolder } from '../../src/data/labelled.ts';
import { importTfliteFile } from '../../src/import/import_tflite.ts';
import { writeDigitFolder } from '../../scripts/demo_data.ts';
import { PRETRAINED_MODEL, pretrainedSplits } from '../../scripts/make_pretrained.ts';
import { quantizeImage } from '../helpers/mnist_pipeline.ts';
import { REPO, tempDir } from '../helpers/paths.ts';

const demo = readFileSync(path.join(REPO, 'scripts/demo.sh'), 'utf8');
const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

describe('scripts/demo.sh', () => {
  it('needs nothing outside the repository', () => {
    expect(demo).not.toMatch(/\.\.\/shared|MCUTRAIN_MODELS|\.\.\//);
  });

  it('names only files a clone has', () => {
    const named = [...new Set(demo.match(/\b(?:models|scripts)\/[\w.-]+\.\w+/g) ?? [])];
    expect(named).toEqual(expect.arrayContaining(['models/mnist04_int8.tflite', 'models/person_detect_int8.tflite', 'scripts/setup.sh', 'scripts/demo_data.ts', 'scripts/demo_summary.ts']));
    // The images it feeds the person-detection model, named in a loop.
    expect(demo).toMatch(/for img in person no_person; do[\s\S]*--input "models\/\$img\.bmp"/);
    named.push('models/person.bmp', 'models/no_person.bmp');
    const tracked = execFileSync('git', ['ls-files', '--', ...named], { cwd: REPO, encoding: 'utf8' }).trim().split('\n');
    expect(tracked.sort()).toEqual(named.sort());
  });

  it('writes digit folders whose BMPs feed the model the quantized pixels (--pixels shift), labelled 0-4 for digits 5-9', () => {
    const root = tempDir('demo-digits');
    roots.push(root);
    const digits = pretrainedSplits().fineTune.slice(0, 40);
    writeDigitFolder(root, digits, 5);
    const graph = importTfliteFile(PRETRAINED_MODEL);
    const t = graph.tensors[graph.inputs[0]];
    const input = { name: t.name, dtype: t.dtype, shape: t.shape, bytes: 784, scale: t.quant!.scale[0], zeroPoint: t.quant!.zeroPoint[0] };
    const set = readLabelledFolder(root, input, { pixels: 'shift', classes: 5 });
    expect(set.classNames).toEqual(['digit5', 'digit6', 'digit7', 'digit8', 'digit9']);
    // readLabelledFolder gives class folders in order, files sorted (named by index) within each.
    const expected = digits.map((d, i) => ({ i, d })).sort((a, b) => a.d.label - b.d.label || a.i - b.i);
    expect(set.labels).toEqual(expected.map((e) => e.d.label));
    expect(set.samples).toEqual(expected.map((e) => quantizeImage(e.d.pixels, input)));
  });
});
