/** A one-line progress indicator on stderr for anything that takes more than a second (silent when not a terminal). */
import { verbosity } from './verbosity.ts';

export interface Progress {
  update(done: number, total: number, note?: string): void;
  done(): void;
}

export function progress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = Date.now();
  let shown = false;
  return {
    update(done, total, note = '') {
      if (!stream.isTTY || verbosity() === 'quiet' || Date.now() - started < 1000) return;
      const width = 24;
      const filled = total > 0 ? Math.round((done / total) * width) : 0;
      stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${note}\x1b[K`);
      shown = true;
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}
