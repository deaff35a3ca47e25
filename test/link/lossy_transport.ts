/**
 * A lossy line between a client and a device: a Transport wrapper that drops, corrupts, duplicates
 * and delays single bytes in both directions, each byte hit with probability `rate` (the kind of
 * damage drawn uniformly), from a seeded generator so that a run can be repeated.
 */
import type { McutrainError } from '../../src/errors.ts';
import type { Transport } from '../../src/link/transport.ts';
import { seededUniform } from '../../src/util/random.ts';

export interface LossCounts {
  bytes: number;
  dropped: number;
  corrupted: number;
  duplicated: number;
  delayed: number;
}

/** A run of bytes to pass on after a pause. */
interface Segment {
  delayMs: number;
  bytes: number[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class LossyTransport implements Transport {
  readonly description: string;
  readonly bytesPerSecond?: number;
  readonly counts: LossCounts = { bytes: 0, dropped: 0, corrupted: 0, duplicated: 0, delayed: 0 };
  private readonly random: () => number;
  private outbound: Promise<void> = Promise.resolve();
  private inbound: Promise<void> = Promise.resolve();
  private listeners: ((chunk: Uint8Array) => void)[] = [];

  /** `maxDelayMs`: the longest pause a delayed byte causes (longer than the device's 250 ms frame timeout by default, so some frames are abandoned). */
  constructor(readonly inner: Transport, readonly rate: number, seed: number, private readonly maxDelayMs = 300) {
    this.description = inner.description;
    this.bytesPerSecond = inner.bytesPerSecond;
    this.random = seededUniform(seed);
    inner.onData((chunk) => {
      const segments = this.mangle(chunk);
      this.inbound = this.inbound.then(async () => {
        for (const s of segments) {
          if (s.delayMs > 0) await sleep(s.delayMs);
          if (s.bytes.length > 0) for (const listener of this.listeners) listener(Uint8Array.from(s.bytes));
        }
      });
    });
  }

  write(bytes: Uint8Array): Promise<void> {
    const segments = this.mangle(bytes);
    const done = this.outbound.then(async () => {
      for (const s of segments) {
        if (s.delayMs > 0) await sleep(s.delayMs);
        if (s.bytes.length > 0) await this.inner.write(Uint8Array.from(s.bytes));
      }
    });
    this.outbound = done.catch(() => undefined);
    return done;
  }

  onData(listener: (chunk: Uint8Array) => void): void {
    this.listeners.push(listener);
  }

  onClose(listener: (error: McutrainError) => void): void {
    this.inner.onClose(listener);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Applies the damage to one chunk: the bytes to pass on, cut into segments where a delay falls. */
  private mangle(chunk: Uint8Array): Segment[] {
    const segments: Segment[] = [{ delayMs: 0, bytes: [] }];
    for (const b of chunk) {
      this.counts.bytes++;
      const current = segments[segments.length - 1];
      if (this.random() >= this.rate) {
        current.bytes.push(b);
        continue;
      }
      const kind = Math.floor(this.random() * 4);
      if (kind === 0) {
        this.counts.dropped++;
      } else if (kind === 1) {
        this.counts.corrupted++;
        current.bytes.push(b ^ (1 + Math.floor(this.random() * 255)));
      } else if (kind === 2) {
        this.counts.duplicated++;
        current.bytes.push(b, b);
      } else {
        this.counts.delayed++;
        segments.push({ delayMs: 1 + Math.floor(this.random() * this.maxDelayMs), bytes: [b] });
      }
    }
    return segments;
  }
}
