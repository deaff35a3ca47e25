/** The mcutrain command line run in process (main()), its stdout, stderr and exit code captured. */
import { vi } from 'vitest';
import { main } from '../../src/cli/cli.ts';
import { exitCodeOf, userError } from '../../src/cli/exit_codes.ts';
import { REPO } from './paths.ts';

export interface MainRun { code: number; out: string; err: string; error?: Error & { hint?: string } }

/** main() with stdout and stderr captured: `out` is what reached stdout (console.log and direct writes). */
export async function runMain(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<MainRun> {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { out.push(`${a.join(' ')}\n`); });
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => { err.push(`${a.join(' ')}\n`); });
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { out.push(String(chunk)); return true; });
  try {
    const code = await main(args, opts.env ?? {}, opts.cwd ?? REPO);
    return { code, out: out.join(''), err: err.join('') };
  } catch (e) {
    const error = userError(e);
    if (!error) throw e;
    return { code: exitCodeOf(e), out: out.join(''), err: err.join(''), error };
  } finally {
    vi.restoreAllMocks();
  }
}
