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
import type { GradType } from '../../src/train/scheme.ts';
import { main } from '../../src/cli/cli.ts';
import { chooseMethod } from '../../src/cli/flash_command.ts';
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
  ])('%j fails naming the value', async (args, message) => {
    const dir = tempDir('options');
    const run = main([...args, ...(args[0] === 'compile' ? ['-o', path.join(dir, 'out')] : [])]);
    await expect(run).rejects.toThrow(McutrainError);
    await expect(run).rejects.toThrow(message);
    expect(existsSync(path.join(dir, 'out'))).toBe(false);
  });

  it.each([
    [['compile', HELLO, '--target', 'host', '--patches', 'fti'], /--patches must be one of auto, fit, off, not 'fti'/, /did you mean 'fit'\?/],
    [['plan', HELLO, '--train', 'bias:last=1', '--numerics', 'TFLite'], /--numerics must be one of tflm, tflite, not 'TFLite'/, /did you mean 'tflite'\?/],
    [['plan', HELLO, '--train', 'bias:last=1', '--grad', 'i61'], /--grad must be one of f32, i16, i8, not 'i61'/, /did you mean 'i16'\?/],
    [['quantize', HELLO, '--calib', 'nowhere', '-o', 'x.tflite', '--method', 'mimnax'], /--method must be one of minmax, percentile, mse, not 'mimnax'/, /did you mean 'minmax'\?/],
    [['trian'], /unknown command 'trian'/, /did you mean 'train'\?/],
    [['compile', HELLO, '--target', 'host', '--patches', 'bogus'], /--patches must be one of auto, fit, off, not 'bogus'/, /^run|^$/], // nothing near: no guess
  ])('%j suggests the nearest value', async (args, message, hint) => {
    const error = await main([...args, ...(args[0] === 'compile' ? ['-o', path.join(tempDir('options'), 'out')] : [])]).then(() => undefined, (e: unknown) => e as McutrainError);
    expect(error).toBeInstanceOf(McutrainError);
    expect(error!.message).toMatch(message);
    expect(error!.hint ?? '').toMatch(hint);
  });

  it('flash --method (quantize has its own --method) through the same reader', () => {
    expect(() => chooseMethod({ method: 'ud2' }, ['uf2'], false)).toThrow(/--method must be one of qemu, gdb, stm32-uart, msd, uf2, not 'ud2'/);
    expect(() => chooseMethod({ method: 'ud2' }, ['uf2'], false)).toThrow(expect.objectContaining({ hint: "did you mean 'uf2'?" }));
  });

  it('prints the error and the suggestion, with no stack trace, and exits 2 (usage)', () => {
    const r = cli('compile', HELLO, '--target', 'host', '--patches', 'fti', '-o', path.join(tempDir('options'), 'out'));
    expect(r.err).toBe("mcutrain: error: --patches must be one of auto, fit, off, not 'fti'\n  hint: did you mean 'fit'?\n");
    expect(r.code).toBe(2);
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
    expect(() => compileModel({ modelPath: HELLO, target: 'host', outDir: out, train: { scheme: 'bias:last=1', grad: 'i61' as GradType } })).toThrow(/grad must be one of f32, i16, i8, not 'i61'/);
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
    // The fine-tuning hyperparameters, with the ranges of --steps, --seed, --lr, --momentum and --grad.
    await expect(chooseScheme({ ...base, hyper: { ...base.hyper, steps: 0 } })).rejects.toThrow(/steps must be an integer from 1 to 1000000, not 0/);
    await expect(chooseScheme({ ...base, hyper: { ...base.hyper, seed: -1 } })).rejects.toThrow(/seed must be an integer from 0 to 4294967295, not -1/);
    await expect(chooseScheme({ ...base, hyper: { ...base.hyper, momentum: 1 } })).rejects.toThrow(/momentum must be a number in \[0, 1\), not 1/);
    await expect(chooseScheme({ ...base, hyper: { ...base.hyper, grad: 'f16' as GradType } })).rejects.toThrow(/grad must be one of f32, i16, i8, not 'f16'/);
  });
});
