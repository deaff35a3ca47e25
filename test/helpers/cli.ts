/** Runs the mcutrain command line as a user would (a fresh node process), for its output and exit code. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO } from './paths.ts';
import { run, type RunResult } from './run.ts';

export function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [path.join(REPO, 'bin/mcutrain.js'), ...args], { encoding: 'utf8', cwd: REPO });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** As cli(), without blocking the test worker's event loop while the command runs (see run.ts). */
export function cliAsync(...args: string[]): Promise<RunResult> {
  return run(process.execPath, [path.join(REPO, 'bin/mcutrain.js'), ...args], { cwd: REPO });
}
