/**
 * The link on a bad line, against the real C server with the fake model under ASan/UBSan: staged
 * requests and partial replies resend only what was damaged; malformed frames of every kind leave
 * the device answering; a lossy line gives correct results or clean errors, never a wrong one, and
 * a retried TRAIN_STEP is applied once; and the diagnosis tells damage from silence. The long runs
 * with figures are `npm run test:faults` (scripts/faults.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McutrainError } from '../../src/errors.ts';
import { Device } from '../../src/link/device.ts';
import { HostTransport } from '../../src/link/host_transport.ts';
import { Command, encodeStaged, STAGED } from '../../src/link/protocol.ts';
import type { Transport } from '../../src/link/transport.ts';
import { buildFakeEngine, finish } from './fake_engine.ts';
import { cleanTraining, FAKE, plusOne, runFuzz, runLossy, type Target } from './faults.ts';

let dir: string;
let engine: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-link-faults-'));
  engine = path.join(dir, 'engine');
  await buildFakeEngine(engine);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A line with scripted damage: `write` may rewrite or drop the n-th frame sent, `reply` the bytes that come back. */
class ScriptedLine implements Transport {
  readonly description: string;
  writes = 0;
  write_: (n: number, bytes: Uint8Array) => Uint8Array | undefined = (_n, b) => b;
  reply: (bytes: Uint8Array) => Uint8Array | undefined = (b) => b;
  constructor(readonly inner: HostTransport) {
    this.description = inner.description;
  }
  async write(bytes: Uint8Array): Promise<void> {
    const out = this.write_(this.writes++, bytes.slice());
    if (out) await this.inner.write(out);
  }
  onData(listener: (chunk: Uint8Array) => void): void {
    this.inner.onData((chunk) => {
      const out = this.reply(chunk);
      if (out) listener(out);
    });
  }
  onClose(listener: (error: McutrainError) => void): void { this.inner.onClose(listener); }
  close(): Promise<void> { return this.inner.close(); }
}

async function openLine(timeoutMs = 600) {
  const host = await HostTransport.start(engine);
  const line = new ScriptedLine(host);
  return { host, line, device: new Device(line, { timeoutMs }) };
}

const input = (seed: number) => Uint8Array.from({ length: FAKE.inBytes }, (_, i) => (i * 13 + seed * 7) & 0xff);
const invocations = (reply: Uint8Array) => new DataView(reply.buffer, reply.byteOffset + FAKE.inBytes, 4).getInt32(0, true);

async function rejection(p: Promise<unknown>): Promise<McutrainError> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(McutrainError);
  return error as McutrainError;
}

describe('staged requests and partial replies', () => {
  it('resends only the damaged chunk of a large request, and runs it once', async () => {
    const { host, line, device } = await openLine();
    await device.hello();
    const first = line.writes;
    line.write_ = (n, b) => {
      if (n === first + 2) b[b.length - 7] ^= 0x40; // the third chunk
      return b;
    };
    const reply = await device.infer(input(1));
    expect(Array.from(reply.subarray(0, FAKE.inBytes))).toEqual(Array.from(plusOne(input(1))));
    expect(invocations(reply)).toBe(1);
    // Two chunks of 256 B land, the third is answered BAD_CRC, and the 512 B from there go again in chunks of 128 B.
    expect(device.stats).toMatchObject({ requests: 2, chunks: 2 + 1 + 512 / 128, badCrcReplies: 1, parts: 0 });
    await finish(host, device);
  });

  it('fetches a large reply again in parts when it keeps arriving damaged, without running the request again', async () => {
    const { host, line, device } = await openLine();
    await device.hello();
    line.reply = (chunk) => {
      // Damage every whole INFER reply (its frame is > 1 KiB); the small REPLY_PART frames pass.
      if (chunk.length > 1000) {
        const out = chunk.slice();
        out[500] ^= 0x01;
        return out;
      }
      return chunk;
    };
    const reply = await device.infer(input(2));
    expect(Array.from(reply.subarray(0, FAKE.inBytes))).toEqual(Array.from(plusOne(input(2))));
    expect(invocations(reply)).toBe(1);
    expect(device.stats.parts).toBeGreaterThanOrEqual(Math.ceil((FAKE.outBytes + 1) / 256));
    expect(device.stats.damagedReplies).toBe(1); // resent at once, then fetched in parts
    await finish(host, device);
  });

  it('goes on fetching parts when the first part is lost too', async () => {
    const { host, line, device } = await openLine();
    await device.hello();
    let lostPart = false;
    line.reply = (chunk) => {
      if (chunk.length > 1000) { // every whole INFER reply, damaged
        const out = chunk.slice();
        out[700] ^= 0x02;
        return out;
      }
      if (chunk[2] === (Command.REPLY_PART | 0x80) && !lostPart) {
        lostPart = true;
        return undefined;
      }
      return chunk;
    };
    const reply = await device.infer(input(5));
    expect(Array.from(reply.subarray(0, FAKE.inBytes))).toEqual(Array.from(plusOne(input(5))));
    expect(invocations(reply)).toBe(1);
    expect(lostPart).toBe(true);
    expect(device.stats.timeouts).toBe(1);
    await finish(host, device);
  });

  it('refuses a staged request whose chunks never arrived, and runs nothing', async () => {
    const { host, device } = await openLine();
    await device.hello();
    expect((await rejection(device.request(Command.INFER | STAGED, encodeStaged(FAKE.inBytes, 0x12345678)))).message)
      .toMatch(/rejected INFER: NOT_STAGED: staged payload does not match its CRC: send its chunks again/);
    expect(invocations(await device.infer(input(4)))).toBe(1);
    await finish(host, device);
  });
});

describe('diagnosis of a link that gives no answer', () => {
  it('tells damaged frames from a foreign protocol', async () => {
    const { host, line, device } = await openLine(300);
    await device.hello();
    line.reply = (chunk) => {
      const out = chunk.slice();
      out[out.length - 1] ^= 0x10; // every reply's CRC
      return out;
    };
    const e = await rejection(device.profile());
    expect(e.message).toMatch(/gave no valid answer to PROFILE .*: 4 frame\(s\) from it arrived damaged/);
    expect(e.message).not.toMatch(/not mcutrain frames/);
    expect(e.hint).toMatch(/corrupts or drops data/);
    await device.close();
    await host.close().catch(() => undefined);
  });

  it('tells lost requests on a device that answered before from a device that never answered', async () => {
    const { host, line, device } = await openLine(300);
    await device.hello();
    line.write_ = () => undefined; // every request lost on the way
    const e = await rejection(device.profile());
    expect(e.message).toMatch(/sent nothing back this time, though it answered 1 frame\(s\) earlier in this session/);
    expect(e.hint).not.toMatch(/powered/);
    expect(e.hint).toMatch(/lost on the way/);
    await device.close();
    await host.close().catch(() => undefined);
  });
});

const hostTarget = async (): Promise<Target & { host: HostTransport }> => {
  const host = await HostTransport.start(engine);
  return { host, transport: host, stderr: () => host.stderr };
};

describe('fault injection (short run; npm run test:faults for the figures)', () => {
  it('survives malformed frames of every kind: no crash, no sanitizer report, no hang, no OK to a bad frame', async () => {
    const figures = await runFuzz('host', hostTarget, 600, 13, 1000);
    expect(figures).toMatchObject({ tried: 600, crashed: 0, sanitizerReports: 0, hung: 0, silentWrong: 0, afterwards: { hello: true, inferCorrect: true } });
    expect(figures.cleanError).toBeGreaterThan(100);
    expect(Object.keys(figures.byCategory).sort()).toEqual(
      ['bad CRC', 'chunk misuse', 'out of order', 'oversized length', 'random bytes', 'truncated', 'wrong payload size']);
  });

  for (const [rate, infers, steps] of [[1e-3, 4, 12], [1e-2, 1, 6]]) {
    it(`gives correct results or clean errors at a byte error rate of ${rate}, and applies each TRAIN_STEP once`, async () => {
      const reference = await hostTarget();
      const clean = await cleanTraining(reference, 7, steps);
      const target = await hostTarget();
      const figures = await runLossy('host', target, clean, { rate, seed: 7, infers, steps, timeoutMs: 400, rounds: 3 });
      expect(figures.infer.silentWrong + figures.train.silentWrong).toBe(0);
      expect(figures.infer.hung + figures.train.hung).toBe(0);
      expect(figures.infer.correct + figures.infer.cleanError).toBe(infers);
      expect(figures.train.paramsMatchClean).not.toBe(false);
      expect(figures.line.dropped + figures.line.corrupted + figures.line.duplicated + figures.line.delayed).toBeGreaterThan(0);
      expect(target.host.stderr).toBe('');
    });
  }
});
