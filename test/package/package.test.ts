/**
 * The package as a user gets it: `npm pack` (whose `prepare` builds dist/), the tarball installed into an
 * empty folder, and from there the `mcutrain` command, the README's library example and the API's types.
 * Packed and installed once; the dependencies come from npm's cache (filled by the repository's npm ci).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from '../helpers/paths.ts';
import { randomBytes, rng } from '../helpers/random.ts';
import { runOk } from '../helpers/run.ts';

/** The environment without what `npm test` sets for its own package, so the nested npm acts as a user's would. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
const npm = (args: string[], cwd: string) => runOk('npm', [...args, '--no-audit', '--no-fund'], { cwd, env });

/** The README's "Use it as a library" example, as it stands. */
function readmeExample(): string {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Use it as a library'));
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('README.md has no js example under "### Use it as a library"');
  return code;
}

describe('the packed package', () => {
  const root = tempDir('package');
  const app = path.join(root, 'app');
  const installed = path.join(app, 'node_modules', 'mcutrain');
  let files: string[] = [];

  beforeAll(async () => {
    const packed = await npm(['pack', '--json', '--pack-destination', root], REPO);
    const [info] = JSON.parse(packed.out) as { filename: string; files: { path: string }[] }[];
    files = info.files.map((f) => f.path);
    mkdirSync(app);
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    await npm(['install', '--prefer-offline', path.join(root, info.filename)], app);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('ships what runs and nothing of the repository\'s own work', () => {
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'bin/mcutrain.js', 'templates/model.c.hbs',
      'firmware/include/mcutrain/model.h', 'targets/host.json', 'models/mnist04_int8.tflite', 'LICENSE', 'NOTICE', 'package.json']) {
      expect(files).toContain(f);
    }
    const tops = new Set(files.map((f) => f.split('/')[0]));
    for (const dir of ['src', 'test', 'bench', 'experiments', 'scripts', 'docs']) expect(tops.has(dir), dir).toBe(false);
    expect(files.filter((f) => f.startsWith('firmware/test/'))).toEqual([]);
  });

  it('runs the CLI from dist/, without tsx', async () => {
    expect(existsSync(path.join(app, 'node_modules', 'tsx'))).toBe(false);
    expect(existsSync(path.join(installed, 'src'))).toBe(false);
    const help = await runOk(path.join(app, 'node_modules', '.bin', 'mcutrain'), ['--help'], { cwd: app, env });
    expect(help.out).toContain('Usage: mcutrain <command> [options]');
    const targets = await runOk(path.join(app, 'node_modules', '.bin', 'mcutrain'), ['targets'], { cwd: app, env });
    expect(targets.out).toMatch(/^host\s/m); // targets/*.json found beside the installed dist/
  });

  it('runs the README example: compile, build, train on the host engine and read the learned weights back', async () => {
    // Five classes of seeded random 28x28 samples: enough for the weights to move.
    const next = rng(14);
    for (let c = 0; c < 5; c++) {
      mkdirSync(path.join(app, 'digits', String(c)), { recursive: true });
      for (let i = 0; i < 3; i++) writeFileSync(path.join(app, 'digits', String(c), `${i}.bin`), randomBytes(28 * 28, next));
    }
    writeFileSync(path.join(app, 'example.mjs'), readmeExample());
    const r = await runOk(process.execPath, ['example.mjs'], { cwd: app, env });
    expect(r.out).toMatch(/^10 operators$/m);
    expect(r.out).toMatch(/^fits mps2-an500: SRAM /m);
    expect(r.out).toMatch(/^epoch 1: loss \d+\.\d{3}\nepoch 2: loss \d+\.\d{3}$/m);
    for (const f of ['model.c', 'model_weights.c', 'Makefile', 'mcutrain.json', 'runtime/include/mcutrain/model.h']) {
      expect(existsSync(path.join(app, 'build', 'digits', f)), f).toBe(true);
    }
    const original = readFileSync(path.join(installed, 'models', 'mnist04_int8.tflite'));
    const tuned = readFileSync(path.join(app, 'tuned.tflite'));
    expect(tuned.length).toBe(original.length); // the same model, with the trained tensors' bytes changed
    expect(tuned.equals(original)).toBe(false);
  });

  it('gives TypeScript users the API\'s types', async () => {
    writeFileSync(path.join(app, 'check.ts'), [
      "import { compile, plan, type CompileResult } from 'mcutrain';",
      "const r: CompileResult = compile({ modelPath: 'm.tflite', target: 'host', outDir: 'out' });",
      'export const arena: number = r.manifest.arenaBytes;',
      '// @ts-expect-error: fits is a boolean (an untyped package would accept this line, and the directive fail)',
      "export const fits: string = plan('m.tflite').fit.fits;",
      '',
    ].join('\n'));
    writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], typeRoots: [path.join(REPO, 'node_modules', '@types')] },
      files: ['check.ts'],
    }));
    await runOk(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: app, env });
  });
});
