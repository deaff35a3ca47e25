/** A transport wrapper for link tests: passes bytes through, with one-shot damage on demand. */
import type { McutrainError } from '../../src/errors.ts';
import type { HostTransport } from '../../src/link/host_transport.ts';
import type { Transport } from '../../src/link/transport.ts';

export class Tamper implements Transport {
  readonly description: string;
  /** Rewrites the next frame sent. */
  damageNextWrite: ((bytes: Uint8Array) => Uint8Array) | undefined;
  /** Drops everything received between the next write and the one after it (a lost reply). */
  loseNextReply = false;
  private dropping = false;

  constructor(readonly inner: HostTransport) {
    this.description = inner.description;
  }
  write(bytes: Uint8Array): Promise<void> {
    this.dropping = this.loseNextReply;
    this.loseNextReply = false;
    const damage = this.damageNextWrite;
    this.damageNextWrite = undefined;
    return this.inner.write(damage ? damage(bytes.slice()) : bytes);
  }
  onData(listener: (chunk: Uint8Array) => void): void {
    this.inner.onData((chunk) => {
      if (!this.dropping) listener(chunk);
    });
  }
  onClose(listener: (error: McutrainError) => void): void { this.inner.onClose(listener); }
  close(): Promise<void> { return this.inner.close(); }
}
