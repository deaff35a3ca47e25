/**
 * Every option value is checked once: an unknown or malformed value fails, naming itself and what is
 * allowed, on the command line and through the stage functions alike, instead of quietly running
 * with a default.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { McutrainError } from '../../src/errors.ts';
import { analyzeModel } from '../../src/pipeline/pipeline.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { chooseScheme } from '../../src/search/choose_scheme.ts';
import type { Numerics } from '../../src/lower/numerics.ts';
import type { PatchMode } from '../../src/plan/patch_stage.ts';
import { cli } from '../helpers/cli.ts';
import { model, tempDir } from '../helpers/paths.ts';

const HELLO = model('hello_world_int8.tflite');

describe('option values on the command line', () => {
  it.each([
    [['compile', HELLO, '--target', 'host', '--patches', 'bogus'], /--patches must be one of auto, fit, off, not 'bogus'/],
    [['compile', HELLO, '--target', 'host', '--train', 'bias:last=1', '--patches', 'yes'], /--patches must be one of auto, fit, off, not 'yes'/],
    [['compile', HELLO, '--target', 'host', '--train', 'bias:last=1', '--lr', '0x10'], /--lr must be a number >= 0, not '0x10'/],
    [['compile', HELLO, '--target', 'host', '--train', 'bias:last=1', '--momentum', '1'], /--momentum must be a number in \[0, 1\), not '1'/],
    [['compile', HELLO, '--target', 'host', '--train', 'bias:last=1', '--steps', '10', '--jobs', '2'], /--steps, --jobs are for --train auto/],
    [['plan', HELLO, '--train', 'bias:last=1', '--numerics', 'bogus'], /--numerics must be one of tflm, tflite, not 'bogus'/],
    [['plan', HELLO, '--train', 'bias:last=1', '--patches', 'bogus'], /--patches must be one of auto, fit, off, not 'bogus'/],
    [['scheme', HELLO, '--data', 'nowhere', '--budget', '64KiB', '--numerics', 'fast'], /--numerics must be one of tflm, tflite, not 'fast'/],
    [['scheme', HELLO, '--data', 'nowhere', '--budget', '64KiB', '--patches', 'on'], /--patches must be one of auto, fit, off, not 'on'/],
    [['scheme', HELLO, '--data', 'nowhere', '--budget', '64 KiBs'], /cannot read the budget '64 KiBs'/],
    [['scheme', HELLO, '--data', 'nowhere', '--budget', '64KiB', '--steps', '1e9'], /--steps must be an integer from 1 to 1000000, not '1e9'/],
    [['scheme', HELLO, '--data', 'nowhere', '--budget', '64KiB', '--target', 'nrf52'], /unknown target 'nrf52'/],
    [['scheme', HELLO, '--data', 'nowhere', '--budget', '64KiB', '--pixels', 'rgb'], /--pixels must be one of shift, bytes, not 'rgb'/],
    [['profile', 'nowhere', '--pixels', 'rgb'], /--pixels must be one of shift, bytes, not 'rgb'/],
    [['profile', 'nowhere', '--runs', 'Infinity'], /--runs must be an integer from 1 to 1000, not 'Infinity'/],
    [['infer', 'nowhere', '--input', 'x.bin', '--baud', '0x1C200'], /--baud must be an integer >= 1, not '0x1C200'/],
    [['quantize', HELLO, '--calib', 'nowhere', '-o', 'x.tflite', '--percentile', '99.9'], /--percentile only applies with --method percentile/],
    [['quantize', HELLO, '--calib', 'nowhere', '-o', 'x.tflite', '--method', 'percentile', '--percentile', 'high'], /--percentile must be a number from 50 to 100, not 'high'/],
    [['zoo', 'resnet-8', '-o', 'x.tflite', '--seed=-1'], /--seed must be an integer from 0 to 4294967295, not '-1'/],
  ])('%j fails naming the value', (args, message) => {
    const dir = tempDir('options');
    const r = cli(...args, ...(args[0] === 'compile' ? ['-o', path.join(dir, 'out')] : []));
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(1);
    expect(existsSync(path.join(dir, 'out'))).toBe(false);
  });

  it('accepts the documented spellings', () => {
    const dir = tempDir('options');
    const r = cli('compile', HELLO, '--target', 'host', '--patches', 'off', '--numerics', 'tflite', '--train', 'bias:last=1', '--lr', '.5', '--momentum', '0.9', '-o', path.join(dir, 'p'));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const m = JSON.parse(readFileSync(path.join(dir, 'p', 'mcutrain.json'), 'utf8'));
    expect([m.numerics, m.training.lr, m.training.momentum]).toEqual(['tflite', 0.5, 0.9]);
  });
});

describe('option values through the stage functions', () => {
  const bytes = new Uint8Array(readFileSync(HELLO));

  it('analyzeModel and compileModel refuse unknown numerics and patch modes', () => {
    expect(() => analyzeModel(bytes, 'hello', 'fast' as Numerics)).toThrow(McutrainError);
    expect(() => analyzeModel(bytes, 'hello', 'fast' as Numerics)).toThrow(/numerics must be one of tflm, tflite, not 'fast'/);
    expect(() => analyzeModel(bytes, 'hello', 'tflm', undefined, { patches: 'bogus' as PatchMode })).toThrow(/patches must be one of auto, fit, off, not 'bogus'/);
    const out = path.join(tempDir('options'), 'p');
    expect(() => compileModel({ modelPath: HELLO, target: 'host', outDir: out, patches: 'bogus' as PatchMode })).toThrow(/patches must be one of auto, fit, off, not 'bogus'/);
    expect(() => compileModel({ modelPath: HELLO, target: 'host', outDir: out, train: { scheme: 'bias:last=1', lr: Number.NaN } })).toThrow(/learning rate NaN/);
    expect(existsSync(out)).toBe(false);
  });

  it('chooseScheme checks its options before measuring anything', async () => {
    const empty = { samples: [], labels: [], classNames: [] };
    const base = {
      modelPath: HELLO, target: 'host', budget: 65536, train: empty, val: empty, layers: 'all' as const, cacheFile: path.join(tempDir('options'), 'cache.json'),
      hyper: { steps: 1, lr: 0.05, momentum: 0, qas: true, seed: 1 },
    };
    await expect(chooseScheme({ ...base, numerics: 'fast' as Numerics })).rejects.toThrow(/numerics must be one of tflm, tflite, not 'fast'/);
    await expect(chooseScheme({ ...base, patches: 'bogus' as PatchMode })).rejects.toThrow(/patches must be one of auto, fit, off, not 'bogus'/);
    await expect(chooseScheme({ ...base, budget: Number.NaN })).rejects.toThrow(/budget must be a whole number of bytes above 0, not NaN/);
  });
});
