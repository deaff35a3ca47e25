/**
 * The command line when the file system says no: unwritable, read-only and full locations, a reader
 * that closes the pipe, Ctrl-C while a project is swapped in, leftovers of a killed compile, and a
 * damaged mcutrain.json. Each ends in a clear error (exit 1) or a clean finish, never a stack trace.
 * Tests run as root, which chmod cannot stop: they use paths root cannot write either (/sys, a path
 * through a regular file) and, where `unshare -m` works, read-only and tiny tmpfs mounts.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { model, REPO, tempDir } from '../helpers/paths.ts';

const CLI = path.join(REPO, 'bin/mcutrain.js');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: REPO });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function expectCleanError(r: { code: number | null; err: string }, message: RegExp): void {
  expect(r.err).toMatch(message);
  expect(r.err).not.toMatch(/internal error|\n\s+at /);
  expect(r.code).toBe(1);
}

/** A pid that is not running: a process that has already exited. */
const deadPid = () => spawnSync('true').pid!;

/** Whether this machine lets us mount a tmpfs in a private mount namespace (root, or user namespaces). */
const canMount = spawnSync('unshare', ['-m', 'sh', '-c', `mount -t tmpfs -o size=64k tmpfs '${tempDir('mount')}'`]).status === 0;

/** Runs a shell script in a private mount namespace (its mounts vanish with it); $CLI is the mcutrain command. */
function inMountNamespace(script: string) {
  const r = spawnSync('unshare', ['-m', 'sh', '-c', script], {
    encoding: 'utf8', cwd: REPO, env: { ...process.env, CLI: `${process.execPath} ${CLI}` },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('output locations that cannot be written', () => {
  it('an output under /sys (not permitted even for root) is a clear error naming the folder', () => {
    const out = `/sys/mcutrain-test-${process.pid}`;
    const r = cli('compile', model('hello_world_int8.tflite'), '--target', 'host', '-o', out);
    expectCleanError(r, new RegExp(`mcutrain: error: cannot write '${out}': operation not permitted\\n  hint: choose a location you may write to`));
    expect(readdirSync('/sys').filter((n) => n.startsWith('mcutrain'))).toEqual([]);
    expectCleanError(cli('zoo', 'ds-cnn', '-o', '/sys/m.tflite'), /cannot write '\/sys\/m\.tflite': permission denied/);
  });

  it('an output path through a regular file is a clear error for a project and for a file', () => {
    const dir = tempDir('fsfail');
    const file = path.join(dir, 'file');
    writeFileSync(file, 'x');
    expectCleanError(cli('compile', model('hello_world_int8.tflite'), '--target', 'host', '-o', path.join(file, 'project')),
      new RegExp(`cannot write '${file}/project': something that is not a folder is in the way at '${file}'\\n  hint: check the path`));
    expectCleanError(cli('zoo', 'ds-cnn', '-o', path.join(file, 'm.tflite')), new RegExp(`cannot write '${file}/m.tflite'`));
    expect(readdirSync(dir)).toEqual(['file']);
  });

  it.skipIf(!canMount)('a read-only file system is a clear error and leaves nothing behind', () => {
    const r = inMountNamespace(`D=$(mktemp -d) && mount -t tmpfs -o ro tmpfs "$D" && $CLI compile '${model('hello_world_int8.tflite')}' --target host -o "$D/project"; echo "status=$?"; ls -A "$D"`);
    expect(r.out).toMatch(/status=1\n$/);
    expect(r.err).toMatch(/mcutrain: error: cannot write '.*\/project': the file system is read-only\n  hint: write the output to a writable location with -o/);
    expect(r.err).not.toMatch(/internal error|\n\s+at /);
  });

  it.skipIf(!canMount)('a full disk fails the compile cleanly: the previous project stays, no temporary folder is left', () => {
    const r = inMountNamespace([
      'D=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$D"',
      `$CLI compile '${model('hello_world_int8.tflite')}' --target host -o "$D/project" >/dev/null || echo first-failed`,
      `$CLI compile '${model('person_detect_int8.tflite')}' --target host -o "$D/project"; echo "status=$?"`,
      'ls -A "$D"; grep -o \'"file": "[^"]*"\' "$D/project/mcutrain.json"',
    ].join('\n'));
    expect(r.out).not.toMatch(/first-failed/);
    expect(r.out).toMatch(/status=1\nproject\n"file": "hello_world_int8.tflite"\n$/);
    expect(r.err).toMatch(/mcutrain: error: cannot write '.*\/project': no space left on the device\n  hint: free some disk space/);
  });
});

describe('interrupted and killed compiles', () => {
  it('Ctrl-C while a project is written is held until the new project is in place, then ends the process', () => {
    const dir = tempDir('fsfail');
    const target = path.join(dir, 'out');
    mkdirSync(target);
    writeFileSync(path.join(target, 'a.txt'), 'old');
    const script = path.join(dir, 'replace.ts');
    writeFileSync(script, [
      `import { writeFileSync } from 'node:fs';`,
      `import { replaceDirAtomic } from ${JSON.stringify(path.join(REPO, 'src/util/fs_atomic.ts'))};`,
      `replaceDirAtomic(process.argv[2], () => true, (tmp) => {`,
      `  writeFileSync(tmp + '/a.txt', 'new');`,
      `  process.kill(process.pid, 'SIGINT');`,
      `  writeFileSync(tmp + '/b.txt', 'new');`,
      `});`,
    ].join('\n'));
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, target], { encoding: 'utf8', cwd: REPO });
    expect(r.signal).toBe('SIGINT');
    expect(readdirSync(dir).sort()).toEqual(['out', 'replace.ts']);
    expect(readdirSync(target).sort()).toEqual(['a.txt', 'b.txt']);
    expect(readFileSync(path.join(target, 'a.txt'), 'utf8')).toBe('new');
  });

  it('the next run puts back a project a killed compile had moved aside, and removes its temporary folder', () => {
    const dir = tempDir('fsfail');
    const project = path.join(dir, 'project');
    expect(cli('compile', model('hello_world_int8.tflite'), '--target', 'host', '-o', project).code).toBe(0);
    // What a compile killed between its two renames leaves: the old project aside, the new one unfinished.
    const pid = deadPid();
    renameSync(project, `${project}.old-${pid}`);
    mkdirSync(`${project}.tmp-${pid}`);
    writeFileSync(path.join(`${project}.tmp-${pid}`, 'model.c'), '/* half */');
    const r = cli('build', project);
    expect(r.err).not.toMatch(/not an mcutrain project/);
    expect(r.code).toBe(0);
    expect(readdirSync(dir)).toEqual(['project']);

    renameSync(project, `${project}.old-${pid}`);
    expect(cli('compile', model('micro_speech_int8.tflite'), '--target', 'host', '-o', project).code).toBe(0);
    expect(readdirSync(dir)).toEqual(['project']);
    expect(JSON.parse(readFileSync(path.join(project, 'mcutrain.json'), 'utf8')).model.file).toBe('micro_speech_int8.tflite');
  });
});

describe('a damaged mcutrain.json', () => {
  it('names the missing or mistyped field and says to recompile; unknown fields are fine', () => {
    const dir = tempDir('fsfail');
    const project = path.join(dir, 'project');
    expect(cli('compile', model('hello_world_int8.tflite'), '--target', 'host', '-o', project).code).toBe(0);
    const file = path.join(project, 'mcutrain.json');
    const good = JSON.parse(readFileSync(file, 'utf8'));
    const { inputs: _, ...noInputs } = good;
    writeFileSync(file, JSON.stringify(noInputs));
    expectCleanError(cli('infer', project, '--input', file), /mcutrain\.json is not a manifest this mcutrain can use: field 'inputs' is missing\n  hint: recompile the project/);
    writeFileSync(file, JSON.stringify({ ...good, outputs: [{ ...good.outputs[0], shape: '1,1' }] }));
    expectCleanError(cli('infer', project, '--input', file), /field 'outputs\[0\]\.shape' should be an array, not a string/);
    writeFileSync(file, JSON.stringify({ ...good, imageHash: 'abc', extra: { any: 1 } }));
    expectCleanError(cli('infer', project, '--input', dir), new RegExp(`'${dir}' is a folder; one inference takes one input file`));
  });
});

describe('a reader that closes the pipe', () => {
  it('a command writing to a closed pipe finishes without a crash', () => {
    const dir = tempDir('fsfail');
    const fifo = path.join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    // A pipe with no reader left: open it read-write (does not block), open the write end, drop the reader.
    const reader = openSync(fifo, 'r+');
    const writer = openSync(fifo, 'w');
    closeSync(reader);
    const r = spawnSync(process.execPath, [CLI, 'inspect', model('vww96_int8.tflite'), '--json'], { stdio: ['ignore', writer, 'pipe'], encoding: 'utf8', cwd: REPO });
    closeSync(writer);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(existsSync(fifo)).toBe(true);
  });
});
