/**
 * The emulated board as a board: from the command line, `flash` starts the project's twin (QEMU
 * mps2-an500, Cortex-M7) and it keeps its state between commands, so train -> weights saves what was
 * learned; weights refuses a twin that has run no step since it was flashed or reset; reset starts
 * the flashed image afresh (reset --port resets a board over the link: here the twin behind a pty),
 * stop ends it, a dead twin is noticed; and an image other than the one
 * `mcutrain build` made is refused by flash and by every command that would start it.
 * The twins live in a runtime folder of this test, and every QEMU started is stopped at the end.
 */
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProjectAsync, fileSha256 } from '../../src/build/build_project.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import { openProjectDevice, openTwin } from '../../src/connect/connect.ts';
import { qemuBoardOf } from '../../src/emulate/qemu.ts';
import { loadTarget } from '../../src/targets/target.ts';
import { twinFiles } from '../../src/emulate/twin.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import type { ProjectManifest } from '../../src/project/manifest.ts';
import { model, REPO, tempDir } from '../helpers/paths.ts';
import { randomBytes, rng } from '../helpers/random.ts';

const work = tempDir('twin');
const runtime = path.join(work, 'run');
process.env.MCUTRAIN_RUNTIME_DIR = runtime; // for the CLI runs and this process alike
const env = process.env;
const project = path.join(work, 'speech');
const data = path.join(work, 'data');

/** Runs the CLI without blocking the test worker (QEMU runs take a while on a loaded machine). */
function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(REPO, 'bin/mcutrain.js'), ...args], { encoding: 'utf8', cwd: REPO, env }, (error, out, err) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, out, err });
    });
  });
}

/** QEMU processes started from this test's runtime folder that still run (zombies excluded). */
function ourQemus(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(runtime)) pids.push(Number(entry));
    } catch {
      // ended meanwhile
    }
  }
  return pids;
}

const pidOf = (text: string) => Number(/QEMU pid (\d+)/.exec(text)?.[1]);

function manifestOf(dir: string): ProjectManifest {
  return JSON.parse(readFileSync(path.join(dir, 'mcutrain.json'), 'utf8')) as ProjectManifest;
}

beforeAll(async () => {
  compileModel({ modelPath: model('micro_speech_int8.tflite'), target: 'mps2-an500', outDir: project, train: { scheme: 'weights:layers=-1,bias:last=1' } });
  await buildProjectAsync(project);
  const next = rng(0x7417);
  const bytes = manifestOf(project).training!.inputBytes;
  for (let label = 0; label < 4; label++) {
    mkdirSync(path.join(data, String(label)), { recursive: true });
    for (let k = 0; k < 2; k++) writeFileSync(path.join(data, String(label), `s${k}.bin`), randomBytes(bytes, next));
  }
});

afterAll(async () => {
  for (const dir of [project, path.join(work, 'tampered')]) await cli('stop', dir);
  const left = ourQemus();
  for (const pid of left) process.kill(pid, 'SIGKILL');
  rmSync(work, { recursive: true, force: true });
  expect(left).toEqual([]); // stop ended every twin this test started
});

describe('the emulated twin keeps its state between commands, like a board', () => {
  it('flash -> weights refused -> train -> weights saves the learned bytes; reset forgets them; a dead twin is noticed; stop ends it', async () => {
    const flash = await cli('flash', project);
    expect(flash.err).toBe('');
    expect(flash.code).toBe(0);
    expect(flash.out).toMatch(/keeps running, and keeps what it learns, until mcutrain reset .* or mcutrain stop/);
    const pid = pidOf(flash.out);
    expect(ourQemus()).toEqual([pid]);

    const early = path.join(work, 'early.tflite');
    const refused = await cli('weights', project, '-o', early);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/has run no training step since it was flashed or reset: it holds the parameters compiled in/);
    expect(refused.err).toMatch(/hint: train it first \(mcutrain train .* --data <folder>\)/);
    expect(existsSync(early)).toBe(false);

    const train = await cli('train', project, '--data', data, '--lr', '0.5');
    expect(train.code).toBe(0);
    expect(train.out).toMatch(/in the emulated board's SRAM until it is reset; save them with: mcutrain weights/);
    expect(train.err).toBe(''); // the twin flash started was used: none was started on the way

    const tuned = path.join(work, 'tuned.tflite');
    const saved = await cli('weights', project, '-o', tuned);
    expect(saved.err).toBe('');
    expect(saved.code).toBe(0);
    expect(pidOf(saved.out)).toBe(pid); // the same QEMU, alive since flash
    const original = importTflite(new Uint8Array(readFileSync(path.join(project, 'model.tflite'))), 'model.tflite');
    const learned = importTflite(new Uint8Array(readFileSync(tuned)), 'tuned.tflite');
    for (const p of manifestOf(project).training!.params) {
      const before = original.tensors[p.tensor].data!;
      const after = learned.tensors[p.tensor].data!;
      const changed = after.reduce((n, b, i) => n + (b !== before[i] ? 1 : 0), 0);
      expect(changed, p.name).toBeGreaterThan(0);
      expect(saved.out).toMatch(new RegExp(`${p.bytes}\\s+${changed}\\n|${p.bytes}\\s+${changed}$`));
    }

    // The engine counts the steps (one epoch of 8 samples); a board talks to one program at a time.
    const held = await openProjectDevice(project, manifestOf(project), { managedTwin: true, timeoutMs: 60_000 });
    try {
      expect((await held.trainInfo()).steps).toBe(8);
      const busy = await cli('infer', project, '--input', path.join(data, '0', 's0.bin'));
      expect(busy.code).toBe(1);
      expect(busy.err).toMatch(/the emulated board of '.*speech' is in use by another mcutrain command \(pid \d+\)/);
    } finally {
      await held.close();
    }

    // A board on a serial port is reset with the link's RESET: here the twin's UART behind a pty (socat).
    const tty = path.join(work, 'tty');
    const socat = spawn('socat', [`pty,raw,echo=0,link=${tty}`, `UNIX-CONNECT:${twinFiles(project).uart}`], { stdio: 'ignore' });
    const socatExit = new Promise((resolve) => socat.once('exit', resolve));
    try {
      while (!existsSync(tty) && socat.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 20)); // the pty socat makes
      const serialReset = await cli('reset', project, '--port', tty);
      expect(serialReset.err).toBe('');
      expect(serialReset.out).toMatch(/^reset .*tty at \d+ baud/);
    } finally {
      socat.kill('SIGTERM');
      await socatExit;
    }
    const afterSerialReset = await cli('weights', project, '-o', early);
    expect(afterSerialReset.err).toMatch(/QEMU pid (\d+)\) has run no training step since it was flashed or reset/);
    expect(pidOf(afterSerialReset.err)).toBe(pid); // the core was reset, QEMU ran on

    const reset = await cli('reset', project);
    expect(reset.code).toBe(0);
    const fresh = pidOf(reset.out);
    expect(ourQemus()).toEqual([fresh]);
    expect((await cli('weights', project, '-o', early)).err).toMatch(/has run no training step since it was flashed or reset/);

    process.kill(fresh, 'SIGKILL');
    const after = await cli('weights', project, '-o', early);
    expect(after.code).toBe(1);
    expect(after.err).toMatch(/the emulated mps2-an500 board of '.*speech' had stopped: QEMU \(pid \d+\) has ended/);
    expect(after.err).toMatch(/started the emulated mps2-an500 board of '.*speech' with its firmware\.elf \(QEMU pid \d+\)/);
    expect(after.err).toMatch(/has run no training step since it was flashed or reset/);

    const stop = await cli('stop', project);
    expect(stop.out).toMatch(/stopped the emulated mps2-an500 board of '.*speech'/);
    expect(ourQemus()).toEqual([]);
    expect((await cli('stop', project)).out).toMatch(/no emulated board is running for '.*speech'/);
    const reset2 = await cli('reset', project);
    expect(reset2.code).toBe(1);
    expect(reset2.err).toMatch(/no image was flashed into the emulated mps2-an500 board[\s\S]*hint: flash it: mcutrain flash/);
  });

  it('two commands that find no board running start one between them', async () => {
    await cli('stop', project);
    expect(ourQemus()).toEqual([]);
    // Both look for the board in the same turn of the event loop, as two commands started together may.
    const board = qemuBoardOf(loadTarget('mps2-an500'));
    const opened = await Promise.allSettled([openTwin(project, manifestOf(project), board), openTwin(project, manifestOf(project), board)]);
    try {
      expect(opened.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const refused = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(String(refused?.reason)).toMatch(/is in use by another mcutrain command/); // busy, not stopped under the other
      expect(ourQemus()).toHaveLength(1);
    } finally {
      for (const o of opened) if (o.status === 'fulfilled') await o.value.close();
      await cli('stop', project);
    }
  });
});

describe('an image other than the one mcutrain build made', () => {
  it('is refused by flash and by the commands that would start it, until the project is built again', async () => {
    const tampered = path.join(work, 'tampered');
    cpSync(project, tampered, { recursive: true });
    await buildProjectAsync(tampered); // in its own folder: every object up to date for make
    const elf = path.join(tampered, 'firmware.elf');
    const bytes = readFileSync(elf);
    bytes[bytes.length - 100] ^= 0x5a; // a byte of the symbol table: the loaded image is the same, the file is not
    writeFileSync(path.join(work, 'tampered.elf'), bytes);
    const foreign = readFileSync(path.join(REPO, 'package.json')); // any other file where the ELF should be
    for (const contents of [bytes, foreign]) {
      writeFileSync(elf, contents);
      for (const args of [['flash', tampered], ['train', tampered, '--data', data], ['infer', tampered, '--input', path.join(data, '0', 's0.bin')]]) {
        const r = await cli(...args);
        expect(r.code, args.join(' ')).toBe(1);
        expect(r.err).toMatch(/firmware\.elf does not match the image `mcutrain build` made for this project/);
        expect(r.err).toMatch(/hint: run mcutrain build .*tampered/);
      }
    }
    expect(ourQemus()).toEqual([]);

    const unrecorded = manifestOf(tampered);
    delete unrecorded.images;
    writeFileSync(path.join(tampered, 'mcutrain.json'), JSON.stringify(unrecorded));
    expect((await cli('flash', tampered)).err).toMatch(/has no record of the firmware\.elf `mcutrain build` made for it[\s\S]*hint: run mcutrain build/);

    // build links the image again even though make would think the changed one up to date
    writeFileSync(elf, bytes);
    expect((await cli('build', tampered)).code).toBe(0);
    expect(manifestOf(tampered).images!['firmware.elf']).toBe(fileSha256(elf));
    expect(fileSha256(elf)).not.toBe(fileSha256(path.join(work, 'tampered.elf')));
  });

  it('a host engine that differs from the one built is refused too', async () => {
    const host = path.join(work, 'host');
    compileModel({ modelPath: model('hello_world_int8.tflite'), target: 'host', outDir: host });
    await buildProjectAsync(host);
    const input = path.join(work, 'x.bin');
    writeFileSync(input, new Uint8Array([10]));
    expect((await cli('infer', host, '--input', input)).code).toBe(0);
    const engine = path.join(host, 'engine');
    const bytes = readFileSync(engine);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(engine, bytes);
    const r = await cli('infer', host, '--input', input);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/engine does not match the image `mcutrain build` made for this project[\s\S]*hint: run mcutrain build/);
  });
});
