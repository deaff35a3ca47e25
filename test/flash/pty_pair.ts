/**
 * A pseudo-terminal pair made by socat (Debian package `socat`): bytes written to one end come out
 * of the other, through the kernel's tty layer, as with a USB serial adapter.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface PtyPair {
  a: string;
  b: string;
  close(): Promise<void>;
}

export async function ptyPair(): Promise<PtyPair> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-pty-'));
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  const child = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (e) => reject(new Error(`socat could not be started (${e.message}): install it (apt-get install socat)`)));
    child.once('exit', (code) => reject(new Error(`socat exited with ${code}: ${stderr}`)));
  });
  failed.catch(() => undefined);
  const deadline = Date.now() + 60_000; // only a socat that never makes them reaches it
  while (!(existsSync(a) && existsSync(b))) {
    if (Date.now() > deadline) throw new Error(`socat made no pty pair within 60 s: ${stderr}`);
    await Promise.race([failed, new Promise((r) => setTimeout(r, 20))]);
  }
  return {
    a,
    b,
    close: async () => {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
