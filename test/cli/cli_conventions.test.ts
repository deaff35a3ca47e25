/**
 * The command line's conventions, run in process through main(): settings from flags, MCUTRAIN_* and
 * mcutrain.config.json (in that order), --json on stdout, -V / -v / -q, did-you-mean, exit codes, and
 * user board files.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EXIT, exitCodeOf } from '../../src/cli/exit_codes.ts';
import { runMain as run } from '../helpers/cli_main.ts';
import { readConfig, settleOptions } from '../../src/cli/config.ts';
import { readManifest } from '../../src/project/manifest.ts';
import { loadTarget, TARGETS_DIR } from '../../src/targets/target.ts';
import { VERSION } from '../../src/version.ts';
import { zooNames } from '../../src/zoo/zoo.ts';
import { model, REPO, tempDir } from '../helpers/paths.ts';

const HELLO = model('hello_world_int8.tflite');
const PLAN = ['plan', HELLO, '--train', 'bias:last=1'];

afterEach(() => vi.restoreAllMocks());

/** A folder holding mcutrain.config.json with `config`, and a subfolder to run from. */
function project(config: unknown): { root: string; sub: string; file: string } {
  const root = tempDir('config');
  const sub = path.join(root, 'deep', 'er');
  mkdirSync(sub, { recursive: true });
  const file = path.join(root, 'mcutrain.config.json');
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
  return { root, sub, file };
}

/** A copy of a built-in target under another name, as a user's board file. */
function boardFile(dir: string, from: string, name: string, edit: (t: Record<string, unknown>) => void = () => undefined): string {
  const t = JSON.parse(readFileSync(path.join(TARGETS_DIR, `${from}.json`), 'utf8')) as Record<string, unknown>;
  t.name = name;
  edit(t);
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(t));
  return file;
}

describe('version, verbosity and help', () => {
  it('-V and --version print the version; -v is --verbose and alone says so', async () => {
    for (const flag of ['-V', '--version']) expect(await run([flag])).toMatchObject({ code: 0, out: `${VERSION}\n` });
    const v = await run(['-v']);
    expect(v.code).toBe(EXIT.usage);
    expect(v.error!.hint).toMatch(/-V \(or --version\) prints the version/);
    const leading = await run(['-q', 'targets', '--json']);
    expect(leading.code).toBe(0);
    expect(JSON.parse(leading.out)[0].name).toBe('host');
  });

  it('every command\'s help lists the common options', async () => {
    const r = await run(['targets', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--json +print the result as JSON on stdout/);
    expect(r.out).toMatch(/-v, --verbose/);
    expect(r.out).toMatch(/-q, --quiet/);
  });

  it('--verbose says where each setting came from; --quiet silences warnings', async () => {
    const { sub } = project({ target: 'host' });
    const v = await run([...PLAN, '-v'], { cwd: sub });
    expect(v.code).toBe(0);
    expect(v.err).toMatch(/mcutrain: settings file .*mcutrain\.config\.json/);
    expect(v.err).toMatch(/--target host \(from config\)/);
    expect(v.err).toMatch(/--train bias:last=1 \(from flag\)/);
    const json = path.join(tempDir('quiet'), 'plan.json');
    const loud = await run([...PLAN, '--target', 'host', '--json', json]);
    expect(loud.err).toMatch(/warning: '--json .*plan\.json' is now '--json-out/);
    const quiet = await run([...PLAN, '--target', 'host', '--json', json, '-q']);
    expect(quiet.code).toBe(0);
    expect(quiet.err).toBe('');
  });
});

describe('did-you-mean and exit codes', () => {
  it('an unknown option, command or target is a usage error (2) naming the nearest', async () => {
    const option = await run([...PLAN, '--targt', 'host']);
    expect(option).toMatchObject({ code: 2, error: { message: "plan: unknown option '--targt'" } });
    expect(option.error!.hint).toMatch(/did you mean '--target'\?/);
    const command = await run(['pln', HELLO]);
    expect(command).toMatchObject({ code: 2, error: { message: "unknown command 'pln'" } });
    expect(command.error!.hint).toMatch(/did you mean 'plan'\?/);
    const target = await run([...PLAN, '--target', 'hots']);
    expect(target).toMatchObject({ code: 2, error: { message: "unknown target 'hots'" } });
    expect(target.error!.hint).toMatch(/did you mean 'host'\?/);
    const value = await run([...PLAN, '--target', 'host', '--patches', 'fti']);
    expect(value.code).toBe(2);
    const missing = await run(['inspect']);
    expect(missing).toMatchObject({ code: 2, error: { message: 'expected one model file, got nothing' } });
  });

  it('a run that fails is 1, a bug is 70', async () => {
    const failed = await run(['inspect', path.join(tempDir('exit'), 'absent.tflite')]);
    expect(failed.code).toBe(EXIT.error);
    expect(exitCodeOf(new TypeError('x is undefined'))).toBe(EXIT.internal);
  });

  it('the process exits with the usage status', () => {
    const r = spawnSync(process.execPath, [path.join(REPO, 'bin/mcutrain.js'), 'plan', HELLO, '--trian', 'bias:last=1'], { encoding: 'utf8', cwd: REPO });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("mcutrain: error: plan: unknown option '--trian'\n  hint: did you mean '--train'? see mcutrain plan --help\n");
  });
});

describe('--json prints the result on stdout', () => {
  it('plan: the report alone on stdout, the text on stderr; --json-out FILE writes it too', async () => {
    const file = path.join(tempDir('json'), 'report.json');
    const r = await run([...PLAN, '--target', 'host', '--json', '--json-out', file]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.target).toBe('host');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(report);
    const quiet = await run([...PLAN, '--target', 'host', '--json', '-q']);
    expect(JSON.parse(quiet.out)).toEqual(report);
    expect(quiet.err).toBe('');
    const text = await run([...PLAN, '--target', 'host']);
    expect(text.out).toMatch(/Early stage:/);
    expect(() => JSON.parse(text.out)).toThrow();
  });

  it('targets, zoo list and compile', async () => {
    const targets = JSON.parse((await run(['targets', '--json'])).out);
    expect(targets.find((t: { default: boolean }) => t.default).name).toBe('mps2-an500');
    const zoo = JSON.parse((await run(['zoo', 'list', '--json'])).out);
    expect(zoo.map((e: { name: string }) => e.name)).toEqual(zooNames());
    const out = path.join(tempDir('json'), 'p');
    const compiled = await run(['compile', HELLO, '--target', 'host', '-o', out, '--json']);
    expect(compiled.code).toBe(0);
    const result = JSON.parse(compiled.out);
    expect(result.manifest).toEqual(readManifest(out));
    expect(compiled.err).toMatch(/compiled hello_world_int8\.tflite for host/);
  });
});

describe('settings: flag > MCUTRAIN_* > mcutrain.config.json > default', () => {
  const targetOf = async (args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string }) => {
    const r = await run([...PLAN, ...args, '--json'], opts);
    expect(r.code).toBe(0);
    return JSON.parse(r.out).target as string;
  };

  it('takes the config file found upward, the environment over it, and a flag over both', async () => {
    const { sub } = project({ target: 'host' });
    expect(await targetOf([], { cwd: tempDir('none') })).toBe('mps2-an500');
    expect(await targetOf([], { cwd: sub })).toBe('host');
    expect(await targetOf([], { cwd: sub, env: { MCUTRAIN_TARGET: 'stm32f746g-disco' } })).toBe('stm32f746g-disco');
    expect(await targetOf(['--target', 'mps2-an386'], { cwd: sub, env: { MCUTRAIN_TARGET: 'stm32f746g-disco' } })).toBe('mps2-an386');
  });

  it('checks the file as the flags are checked, naming it', async () => {
    const value = project({ target: 'host', patches: 'fti' });
    const r = await run(PLAN, { cwd: value.sub });
    expect(r.code).toBe(2);
    expect(r.error!.message).toBe(`${value.file}: "patches": --patches must be one of auto, fit, off, not 'fti'`);
    expect(r.error!.hint).toBe("did you mean 'fit'?");
    const key = project({ targte: 'host' });
    expect((await run(PLAN, { cwd: key.sub })).error).toMatchObject({ message: `${key.file}: unknown setting "targte"`, hint: expect.stringMatching(/^did you mean "target"\?/) });
    const type = project({ json: true });
    expect((await run(PLAN, { cwd: type.sub })).error!.message).toBe(`${type.file}: unknown setting "json"`);
    const target = project({ target: 'nucleo-f767' });
    expect((await run(PLAN, { cwd: target.sub })).error).toMatchObject({ message: `${target.file}: "target": unknown target 'nucleo-f767'`, hint: expect.stringMatching(/^did you mean 'nucleo-f767zi'\?/) });
    const broken = project('{ "target": ');
    expect((await run(PLAN, { cwd: broken.sub })).error!.message).toMatch(/mcutrain\.config\.json: not valid JSON/);
    const env = await run(PLAN, { env: { MCUTRAIN_TARGET: 'm2ps-an500' } });
    expect(env.error).toMatchObject({ message: "unknown target 'm2ps-an500' (from MCUTRAIN_TARGET)", hint: expect.stringMatching(/^did you mean 'mps2-an500'\?/) });
  });

  it('MCUTRAIN_PORT is the link port of every device command, but not flash\'s probe port', () => {
    const config = readConfig(undefined, {});
    const port = { port: { type: 'string' as const } };
    expect(settleOptions({}, port, config, { MCUTRAIN_PORT: '/dev/ttyACM0' }).values.port).toBe('/dev/ttyACM0');
    expect(settleOptions({ port: '/dev/ttyUSB1' }, port, config, { MCUTRAIN_PORT: '/dev/ttyACM0' }).values.port).toBe('/dev/ttyUSB1');
    expect(settleOptions({}, port, config, { MCUTRAIN_PORT: '/dev/ttyACM0' }, ['port']).values.port).toBeUndefined();
  });
});

describe('user board files', () => {
  it('--target ./myboard.json: compiled for it, the project keeps a copy and finds it by name', async () => {
    const dir = tempDir('board');
    const file = boardFile(dir, 'host', 'my-host');
    const out = path.join(dir, 'p');
    const r = await run(['compile', HELLO, '--target', file, '-o', out]);
    expect(r.code).toBe(0);
    expect(readManifest(out).target).toBe('my-host');
    expect(loadTarget('my-host', out)).toEqual(loadTarget(file));
    expect(() => loadTarget('my-host')).toThrow(/unknown target 'my-host'/);
  });

  it('a board file named in the config is found relative to the config file', async () => {
    const { root, sub } = project({ target: 'my-host.json' });
    boardFile(root, 'host', 'my-host');
    const r = await run([...PLAN, '--json'], { cwd: sub });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).target).toBe('my-host');
  });

  it('a boards folder in the config: its boards are named as built-in targets are, and targets lists them', async () => {
    const { root, sub } = project({ boards: 'boards', target: 'my-m7' });
    mkdirSync(path.join(root, 'boards'));
    const file = boardFile(path.join(root, 'boards'), 'mps2-an500', 'my-m7', (t) => { (t.sram as { bytes: number }).bytes = 512 * 1024; });
    const plan = await run([...PLAN, '--json'], { cwd: sub });
    expect(plan.code).toBe(0);
    expect(JSON.parse(plan.out).target).toBe('my-m7');
    const targets = JSON.parse((await run(['targets', '--json'], { cwd: sub })).out);
    expect(targets.at(-1)).toMatchObject({ name: 'my-m7', file, sramBytes: 512 * 1024 });
    boardFile(path.join(root, 'boards'), 'mps2-an500', 'other', (t) => { t.name = 'my-m7'; });
    expect((await run([...PLAN, '--target', 'other'], { cwd: sub })).error!.message).toBe(`${path.join(root, 'boards', 'other.json')} names its board 'my-m7'`);
  });

  it('a board file is checked field by field, and may not take a built-in name', async () => {
    const dir = tempDir('board');
    const noCpu = boardFile(dir, 'mps2-an500', 'no-cpu', (t) => { delete t.cpu; });
    expect((await run([...PLAN, '--target', noCpu])).error).toMatchObject({ message: `${noCpu}: field 'cpu' missing` });
    const platform = boardFile(dir, 'mps2-an500', 'odd', (t) => { t.platform = 'nowhere'; });
    expect((await run([...PLAN, '--target', platform])).error!.message).toMatch(/platform 'nowhere' is not one of firmware\/platform\//);
    const clash = boardFile(dir, 'host', 'host');
    expect((await run([...PLAN, '--target', clash])).error!.message).toBe(`${clash}: name 'host' is taken by a built-in target`);
    const absent = path.join(dir, 'absent.json');
    expect((await run([...PLAN, '--target', absent])).error!.message).toBe(`board file '${absent}' does not exist`);
    expect(existsSync(absent)).toBe(false);
  });
});
