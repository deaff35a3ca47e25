/**
 * Defects found in review, run in process through main(): a project compiled for a user board file or
 * with --arith float reported as compiled; settings from mcutrain.config.json / MCUTRAIN_* that are no
 * mistake on the command line; flash's --method flag-only; command-line mistakes exit 2.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EXIT } from '../../src/cli/exit_codes.ts';
import { runMain as run } from '../helpers/cli_main.ts';
import { TARGETS_DIR } from '../../src/targets/target.ts';
import { searchSchemes } from '../../src/search/choose_scheme.ts';
import { evaluateOn } from '../../src/session/training_session.ts';
import type { Device } from '../../src/link/device.ts';
import { model, tempDir } from '../helpers/paths.ts';
import { tree } from '../data/helpers.ts';

const HELLO = model('hello_world_int8.tflite');

afterEach(() => vi.restoreAllMocks());

/** A folder holding mcutrain.config.json with `config`. */
function configured(config: unknown): string {
  const root = tempDir('review-config');
  writeFileSync(path.join(root, 'mcutrain.config.json'), JSON.stringify(config));
  return root;
}

describe('report of a project as it was compiled', () => {
  it('a project compiled for a user board file: report finds the board the project keeps', async () => {
    const dir = tempDir('review-board');
    const t = JSON.parse(readFileSync(path.join(TARGETS_DIR, 'mps2-an500.json'), 'utf8')) as Record<string, unknown>;
    t.name = 'review-board';
    const board = path.join(dir, 'review-board.json');
    writeFileSync(board, JSON.stringify(t));
    const out = path.join(dir, 'proj');
    expect((await run(['compile', HELLO, '--target', board, '--train', 'bias:last=1', '-o', out])).code).toBe(0);
    const r = await run(['report', out, '-o', path.join(dir, 'r.html')]);
    expect(r.error?.message).toBeUndefined();
    expect(r.code).toBe(0);
    expect(r.err).not.toMatch(/no memory timeline/);
  });

  it('a project compiled --arith float for a core whose default is int: re-planned in float, with its explicit f32 gradients', async () => {
    const dir = tempDir('review-arith');
    const out = path.join(dir, 'proj');
    expect((await run(['compile', HELLO, '--target', 'mps2-an385', '--arith', 'float', '--grad', 'f32', '--train', 'bias:last=1', '-o', out])).code).toBe(0);
    const r = await run(['report', out, '-o', path.join(dir, 'r.html')]);
    expect(r.code).toBe(0);
    expect(r.err).not.toMatch(/no memory timeline/);
  });
});

describe('settings from the config file or the environment are not typed flags', () => {
  it('compile --train SCHEME with "seed" in the config; an inference-only compile with "lr"', async () => {
    const root = configured({ seed: 3, lr: 0.01 });
    expect((await run(['compile', HELLO, '--train', 'bias:last=1', '-o', path.join(root, 'a')], { cwd: root })).code).toBe(0);
    expect((await run(['compile', HELLO, '-o', path.join(root, 'b')], { cwd: root })).code).toBe(0);
    // typed, they are still mistakes, and usage ones
    const typed = await run(['compile', HELLO, '--seed', '3', '--train', 'bias:last=1', '-o', path.join(root, 'c')], { cwd: root });
    expect(typed).toMatchObject({ code: EXIT.usage, error: { message: '--seed is for --train auto' } });
    expect((await run(['compile', HELLO, '--lr', '0.1', '-o', path.join(root, 'd')], { cwd: root })).code).toBe(EXIT.usage);
  });

  it('report <project> with MCUTRAIN_TARGET set or "patches" in the config', async () => {
    const root = configured({ patches: 'off' });
    const out = path.join(root, 'proj');
    expect((await run(['compile', HELLO, '--train', 'bias:last=1', '-o', out], { cwd: root })).code).toBe(0);
    const r = await run(['report', out, '-o', path.join(root, 'r.html')], { cwd: root, env: { MCUTRAIN_TARGET: 'mps2-an500' } });
    expect(r.error?.message).toBeUndefined();
    expect(r.code).toBe(0);
    expect(await run(['report', out, '--target', 'mps2-an500', '-o', path.join(root, 'r.html')], { cwd: root })).toMatchObject({ code: EXIT.usage });
  });

  it('quantize\'s default minmax run with "percentile" in the config (for the percentile runs)', async () => {
    const root = configured({ percentile: 99.9 });
    const calib = tree({ 'a.bin': new Uint8Array(Float32Array.of(0.5).buffer), 'b.bin': new Uint8Array(Float32Array.of(-0.5).buffer) });
    const r = await run(['quantize', model('hello_world_float.tflite'), '--calib', calib, '-o', path.join(root, 'm.tflite')], { cwd: root });
    expect(r.error?.message).toBeUndefined();
    expect(r.out).toMatch(/with 2 samples \(minmax\)/);
    expect(await run(['quantize', model('hello_world_float.tflite'), '--calib', calib, '--percentile', '99', '-o', path.join(root, 'n.tflite')], { cwd: root }))
      .toMatchObject({ error: { message: '--percentile only applies with --method percentile' } });
  });

  it('flash does not take quantize\'s "method" from the config file', async () => {
    const root = configured({ method: 'percentile' });
    const out = path.join(root, 'proj');
    expect((await run(['compile', HELLO, '-o', out], { cwd: root })).code).toBe(0);
    const r = await run(['flash', out], { cwd: root }); // not built: refused for its missing image, not for the method
    expect(r.code).not.toBe(0);
    expect(r.error!.message).not.toMatch(/percentile|method/);
    expect(r.error!.message).toMatch(/firmware|build/);
  });
});

describe('an explicit grad=f32 on a core whose default arithmetic is int', () => {
  it('is refused inline, in JSON and as --grad f32 alike; a float build prints no grad', async () => {
    const dir = tempDir('review-grad');
    const json = path.join(dir, 'scheme.json');
    writeFileSync(json, JSON.stringify({ bias: { last: 1 }, grad: 'f32' }));
    const refusals = [];
    for (const train of [['--train', 'bias:last=1,grad=f32'], ['--train', json], ['--train', 'bias:last=1', '--grad', 'f32']]) {
      const r = await run(['compile', HELLO, '--target', 'mps2-an385', ...train, '-o', path.join(dir, 'p')]);
      expect(r.code, train.join(' ')).toBe(EXIT.error);
      refusals.push(r.error!.message);
    }
    expect(new Set(refusals)).toEqual(new Set(['the integer-only engine (arith=int) stores gradients as int16 or int8, not float32']));
    const ok = await run(['compile', HELLO, '--target', 'mps2-an500', '--train', 'bias:last=1,grad=f32', '-o', path.join(dir, 'f')]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/training bias:last=1,qas=on,lr=0.05: /);
  });
});

describe('the scheme search in the arithmetic it builds', () => {
  it('prices the integer engine on a core without an FPU; momentum with it refused before the search', async () => {
    const hyper = { qas: true, momentum: 0, lr: 0.05 };
    expect(searchSchemes(hyper, 'int')({ biasLast: 2, weights: [] })).toMatchObject({ arith: 'int', grad: 'i16' });
    expect(searchSchemes(hyper, 'float')({ biasLast: 2, weights: [] })).not.toHaveProperty('grad');
    expect(() => searchSchemes({ ...hyper, momentum: 0.9 }, 'int')).toThrow(/integer-only engine \(arith=int\) has no momentum/);
    const dir = tempDir('review-auto');
    for (const command of [['compile', HELLO, '--train', 'auto', '-o', path.join(dir, 'p')], ['scheme', HELLO]]) {
      const r = await run([...command, '--target', 'mps2-an385', '--momentum', '0.9', '--budget', '64KiB', '--data', path.join(dir, 'none')]);
      expect(r.error?.message, command[0]).toMatch(/has no momentum/);
    }
  });
});

describe('eval builds on the session\'s evaluation loop', () => {
  it('evaluateOn scores with the given scorer and reports each sample\'s label and prediction', async () => {
    const set = { samples: [0, 1, 2, 3].map((k) => Uint8Array.of(k)), labels: [0, 1, 1, 0] };
    const seen: [number, number, number, number][] = [];
    // an inference-only engine's INFER in eval; here the class the sample's byte names, with a loss of a quarter
    const score = async (_d: Device, sample: Uint8Array) => ({ loss: 0.25 * (sample[0] + 1), predicted: sample[0] % 2 });
    const r = await evaluateOn(undefined as unknown as Device, set, {}, (done, _loss, correct, { label, predicted }) => seen.push([done, correct, label, predicted]), score);
    expect(r).toEqual({ loss: (0.25 + 0.5 + 0.75 + 1) / 4, accuracy: 0.5 });
    expect(seen).toEqual([[1, 1, 0, 0], [2, 2, 1, 1], [3, 2, 1, 0], [4, 2, 0, 1]]);
  });
});

describe('command-line mistakes exit 2', () => {
  it('missing -o, --data, and a stray positional', async () => {
    const dir = tempDir('review-usage');
    for (const args of [['compile', HELLO], ['train', dir], ['eval', dir], ['weights', dir], ['report', 'a', 'b', '-o', 'x.html']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(EXIT.usage);
    }
  });
});
