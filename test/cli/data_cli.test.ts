/** Data and calibration folders through the commands that read them: warnings on stderr, refusals before any work. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { model, REPO, tempDir } from '../helpers/paths.ts';
import { tree } from '../data/helpers.ts';

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(REPO, 'bin/mcutrain.js'), ...args], { encoding: 'utf8', cwd: REPO });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** One raw sample of vww96_int8's input (int8[1,96,96,3]). */
const VWW_SAMPLE = new Uint8Array(96 * 96 * 3).fill(3);

describe('data folders on the command line', () => {
  it('quantize skips a README in the calibration folder and warns about it and about two samples', () => {
    const calib = tree({ 'README.md': '# calibration inputs\n', 'a.bin': new Uint8Array(Float32Array.of(0.5).buffer), 'b.bin': new Uint8Array(Float32Array.of(-0.5).buffer) });
    const out = path.join(tempDir('data-cli'), 'm.tflite');
    const r = cli('quantize', model('hello_world_float.tflite'), '--calib', calib, '-o', out);
    expect(r.err).toMatch(/^mcutrain: warning: skipped 1 file \(README\.md\) in '.*' that is not \.bmp, \.npy, \.bin samples$/m);
    expect(r.err).toMatch(/^mcutrain: warning: only 2 calibration samples: .*\(use 50 or more; a few hundred is typical\)$/m);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/quantized hello_world_float\.tflite with 2 samples/);
  });

  it('scheme refuses validation class folders the training data does not have', () => {
    const data = tree({ 'no_person/a.bin': VWW_SAMPLE, 'person/a.bin': VWW_SAMPLE });
    const val = tree({ 'cat/a.bin': VWW_SAMPLE, 'person/a.bin': VWW_SAMPLE });
    const r = cli('scheme', model('vww96_int8.tflite'), '--data', data, '--val', val, '--budget', '1KiB', '--target', 'host');
    expect(r.err).toMatch(/mcutrain: error: class folder 'cat' of '.*' is not a class of the training data '.*' \(no_person, person\)/);
    expect(r.code).toBe(1);
  });

  it('train refuses a validation set named differently from the training set, before opening the device', () => {
    const project = path.join(tempDir('data-cli'), 'project');
    expect(cli('compile', model('vww96_int8.tflite'), '--target', 'host', '--train', 'bias:last=2', '-o', project).code).toBe(0);
    const data = tree({ '0/a.bin': VWW_SAMPLE, '1/a.bin': VWW_SAMPLE });
    const val = tree({ 'no_person/a.bin': VWW_SAMPLE, 'person/a.bin': VWW_SAMPLE });
    const r = cli('train', project, '--data', data, '--val', val);
    expect(r.err).toMatch(/mcutrain: error: class folders 'no_person', 'person' of '.*' are not classes of the training data '.*' \(0, 1\)/);
    expect(r.code).toBe(1);
  });
});
