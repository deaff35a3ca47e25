/** The command line as a user meets it: exit codes, clear errors without stack traces, no half-written output. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { model, REPO, tempDir } from '../helpers/paths.ts';

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(REPO, 'bin/mcutrain.js'), ...args], { encoding: 'utf8', cwd: REPO });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('mcutrain CLI', () => {
  it('inspect --json reports operators, memory and Flash', () => {
    const r = cli('inspect', model('micro_speech_int8.tflite'), '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.opCounts).toEqual({ RESHAPE: 1, DEPTHWISE_CONV_2D: 1, FULLY_CONNECTED: 1, SOFTMAX: 1 });
    expect(report.engine.arenaBytes).toBe(5968);
  });

  it('inspect of a float model says why the int8 engine cannot run it', () => {
    const r = cli('inspect', model('hello_world_float.tflite'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/cannot run this model: .*float32 model.*quantize it/);
  });

  it('compile of a float model fails with a hint and writes nothing', () => {
    const out = path.join(tempDir('cli'), 'project');
    const r = cli('compile', model('hello_world_float.tflite'), '--target', 'host', '-o', out);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^mcutrain: error: .*float32 model/m);
    expect(r.err).toMatch(/hint: quantize it/);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(path.dirname(out))).toEqual([]);
  });

  it('a truncated model is refused by name, and an existing project survives the failed compile', () => {
    const dir = tempDir('cli');
    const bad = path.join(dir, 'bad.tflite');
    writeFileSync(bad, readFileSync(model('vww96_int8.tflite')).subarray(0, 5000));
    const out = path.join(dir, 'project');
    expect(cli('compile', model('hello_world_int8.tflite'), '--target', 'host', '-o', out).code).toBe(0);
    const before = readFileSync(path.join(out, 'model.c'), 'utf8');
    const r = cli('compile', bad, '--target', 'host', '-o', out);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/mcutrain: error: .*(truncated|corrupt|out of range|beyond)/i);
    expect(readFileSync(path.join(out, 'model.c'), 'utf8')).toBe(before);
    expect(readdirSync(dir).sort()).toEqual(['bad.tflite', 'project']);
  });

  it('refuses to replace a folder it did not make', () => {
    const dir = tempDir('cli');
    writeFileSync(path.join(dir, 'precious.txt'), 'keep me');
    const r = cli('compile', model('hello_world_int8.tflite'), '--target', 'host', '-o', dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not empty and was not made by mcutrain/);
    expect(readFileSync(path.join(dir, 'precious.txt'), 'utf8')).toBe('keep me');
  });

  it('names unknown commands, options, targets and numerics', () => {
    expect(cli('frobnicate').err).toMatch(/unknown command 'frobnicate'/);
    expect(cli('compile', model('hello_world_int8.tflite'), '--bogus').err).toMatch(/unknown option '--bogus'/);
    const t = cli('compile', model('hello_world_int8.tflite'), '--target', 'nope', '-o', path.join(tempDir('cli'), 'x'));
    expect(t.code).toBe(2); // a usage error (README, exit codes)
    expect(t.err).toMatch(/unknown target 'nope'[\s\S]*mps2-an500/);
    const n = cli('compile', model('hello_world_int8.tflite'), '--numerics', 'fast', '-o', path.join(tempDir('cli'), 'x'));
    expect(n.err).toMatch(/--numerics must be one of tflm, tflite, not 'fast'/);
  });

  it('infer with a wrongly sized input says what the model expects', () => {
    const dir = tempDir('cli');
    const out = path.join(dir, 'p');
    expect(cli('compile', model('hello_world_int8.tflite'), '--target', 'host', '-o', out).code).toBe(0);
    expect(cli('build', out).code).toBe(0);
    writeFileSync(path.join(dir, 'x.bin'), new Uint8Array(3));
    const r = cli('infer', out, '--input', path.join(dir, 'x.bin'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/holds 3 bytes; the model expects 1/);
    writeFileSync(path.join(dir, 'y.bin'), new Uint8Array([10]));
    const ok = cli('infer', out, '--input', path.join(dir, 'y.bin'), '--json');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)[0].shape).toEqual([1, 1]);
  });

  it('lists targets with the emulated M7 as default', () => {
    const r = cli('targets');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/mps2-an500 \(default\)\s+cortex-m7/);
  });
});

describe('mcutrain flash', () => {
  it('loads and verifies the firmware on the emulated board, and asks how to flash a real one', () => {
    const dir = tempDir('cli');
    const emu = path.join(dir, 'emu');
    expect(cli('compile', model('hello_world_int8.tflite'), '-o', emu).code).toBe(0); // the default board
    expect(cli('build', emu).code).toBe(0);
    const r = cli('flash', emu);
    expect(cli('stop', emu).out).toMatch(/stopped the emulated mps2-an500 board/); // flash leaves the emulated board running
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/with qemu/);
    expect(r.out).toMatch(/verified: read back all \d+ bytes/);

    const real = path.join(dir, 'disco');
    expect(cli('compile', model('hello_world_int8.tflite'), '--target', 'stm32f746g-disco', '-o', real).code).toBe(0);
    expect(cli('build', real).code).toBe(0);
    const ask = cli('flash', real);
    expect(ask.code).toBe(1);
    expect(ask.err).toMatch(/say how to flash this board[\s\S]*supports: gdb, msd, stm32-uart/);
    expect(cli('flash', real, '--method', 'uf2', '--drive', dir).err).toMatch(/cannot be flashed with 'uf2'/);
    expect(cli('flash', real, '--drive', dir).err).toMatch(/does not look like|not a .*drive|DETAILS.TXT/i);
  });
});
