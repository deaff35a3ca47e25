/**
 * Runs a program without blocking the test worker's event loop. A synchronous child (spawnSync,
 * execFileSync) that takes long on a loaded machine starves vitest's RPC to the main process, which
 * then reports "Timeout calling onTaskUpdate" and fails the run with every test passed.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

export interface RunResult {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to the program's stdin, which is then closed. */
  input?: string | Uint8Array;
}

/** The program's exit and output, whatever the exit code; rejects only if it cannot be started. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.stdin.on('error', () => undefined); // a program that exits without reading its stdin
    child.stdin.end(opts.input ?? '');
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({
      code, signal, out: Buffer.concat(out).toString('utf8'), err: Buffer.concat(err).toString('utf8'),
    }));
  });
}

/** As run(), and throws with the program's output unless it exits 0. */
export async function runOk(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.out}${r.err}`);
  }
  return r;
}
