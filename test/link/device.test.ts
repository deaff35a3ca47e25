import { describe, expect, it } from 'vitest';
import { McutrainError } from '../../src/errors.ts';
import { Device } from '../../src/link/device.ts';
import { encodeFrame, FrameDecoder, type Frame } from '../../src/link/frame.ts';
import { Command, PROTOCOL_VERSION, REPLY, Status } from '../../src/link/protocol.ts';
import type { Transport } from '../../src/link/transport.ts';

/** What the fake device does with one request: bytes to send back, or nothing. */
type Script = (request: Frame, attempt: number) => Uint8Array | undefined;

/** An in-memory transport whose far end is a scripted device. */
class FakeTransport implements Transport {
  readonly description = 'fake device';
  readonly writes: Uint8Array[] = [];
  readonly requests: Frame[] = [];
  private listener: ((chunk: Uint8Array) => void) | undefined;
  private closeListener: ((error: McutrainError) => void) | undefined;
  private decoder = new FrameDecoder();
  private attempts = new Map<number, number>();

  constructor(private readonly script: Script) {}

  async write(bytes: Uint8Array): Promise<void> {
    this.writes.push(bytes.slice());
    for (const frame of this.decoder.push(bytes)) {
      this.requests.push(frame);
      const attempt = this.attempts.get(frame.sequence) ?? 0;
      this.attempts.set(frame.sequence, attempt + 1);
      const reply = this.script(frame, attempt);
      // After the write returns, yet before any timer can fire: however loaded the machine, a scripted reply
      // never loses a race against the Device's short reply timeout.
      if (reply) setImmediate(() => this.listener?.(reply));
    }
  }
  onData(listener: (chunk: Uint8Array) => void): void { this.listener = listener; }
  onClose(listener: (error: McutrainError) => void): void { this.closeListener = listener; }
  async close(): Promise<void> {}
  die(message: string): void { this.closeListener?.(new McutrainError(message)); }
}

const reply = (req: Frame, status: number, body: Uint8Array | string = new Uint8Array(0)) => {
  const rest = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const payload = new Uint8Array(1 + rest.length);
  payload[0] = status;
  payload.set(rest, 1);
  return encodeFrame(req.command | REPLY, req.sequence, payload);
};

/** A HELLO body as the firmware writes it (docs/protocol.md). */
function helloBody(version = PROTOCOL_VERSION): Uint8Array {
  const out: number[] = [];
  const u16 = (v: number) => out.push(v & 0xff, (v >> 8) & 0xff);
  const u32 = (v: number) => out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  const f32 = (v: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true); out.push(...b); };
  const str = (s: string) => { const b = new TextEncoder().encode(s); out.push(b.length, ...b); };
  const tensor = (name: string, dtype: number, dims: number[], bytes: number, scale: number, zp: number) => {
    out.push(dtype, dims.length); dims.forEach(u32); u32(bytes); f32(scale); u32(zp); str(name);
  };
  u16(version);
  out.push(1, 2, 3, 4, 5, 6, 7, 8);
  u32(1000); u32(2000); u32(4); u32(0);
  u16(3); u16(1); u16(2);
  str('build-1'); str('cycles');
  tensor('in', 0, [1, 4], 4, 0.25, -128);
  tensor('out', 0, [1, 2], 2, 0.5, 3);
  tensor('count', 3, [1], 4, 0, 0);
  return Uint8Array.from(out);
}

/** A well-behaved fake firmware: HELLO, and INFER answering input + 1 padded to the outputs. */
const goodDevice: Script = (req) => {
  if (req.command === Command.HELLO) return reply(req, Status.OK, helloBody());
  if (req.command === Command.INFER) return reply(req, Status.OK, Uint8Array.of(req.payload[0] + 1, req.payload[1] + 1, 9, 0, 0, 0));
  return reply(req, Status.UNKNOWN_COMMAND, 'nope');
};

async function expectMcutrainError(p: Promise<unknown>, pattern: RegExp): Promise<McutrainError> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(McutrainError);
  expect((error as McutrainError).message).toMatch(pattern);
  return error as McutrainError;
}

describe('Device', () => {
  it('parses HELLO and runs INFER with whole and per-tensor buffers', async () => {
    const t = new FakeTransport(goodDevice);
    const d = new Device(t, { timeoutMs: 200, firstSequence: 254 });
    const info = await d.hello();
    expect(info).toMatchObject({
      protocolVersion: 3, modelHash: '0102030405060708', arenaBytes: 1000, flashConstBytes: 2000, maxRequestBytes: 4,
      training: false, opCount: 3, buildId: 'build-1', tickUnit: 'cycles',
    });
    expect(info.inputs).toEqual([{ name: 'in', dtype: 'int8', shape: [1, 4], bytes: 4, scale: 0.25, zeroPoint: -128 }]);
    expect(info.outputs.map((o) => o.dtype)).toEqual(['int8', 'int32']);
    expect(Array.from(await d.infer(Uint8Array.of(1, 2, 3, 4)))).toEqual([2, 3, 9, 0, 0, 0]);
    const outs = await d.inferTensors([Int8Array.of(5, 6, 7, 8)]);
    expect(outs.map((o) => Array.from(o))).toEqual([[6, 7], [9, 0, 0, 0]]);
    // sequences 254, 255, then wrap to 0
    expect(t.requests.map((r) => r.sequence)).toEqual([254, 255, 0]);
    expect(d.stats.resends).toBe(0);
  });

  it('times out with a clear error after resending the same frame', async () => {
    const t = new FakeTransport(() => undefined);
    const d = new Device(t, { timeoutMs: 30, retries: 2, firstSequence: 7 });
    const started = Date.now();
    const e = await expectMcutrainError(d.hello(), /fake device gave no valid answer to HELLO \(sequence 7\) in 3 attempt\(s\) of 30 ms: it sent nothing at all/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(85);
    expect(e.hint).toMatch(/connected and powered/);
    expect(t.writes).toHaveLength(3);
    expect(t.writes[1]).toEqual(t.writes[0]);
    expect(t.writes[2]).toEqual(t.writes[0]);
    expect(d.stats).toMatchObject({ resends: 2, timeouts: 3 });
  });

  it('resends after a corrupted reply and uses the good one', async () => {
    const t = new FakeTransport((req, attempt) => {
      const r = reply(req, Status.OK, helloBody());
      if (attempt === 0) r[20] ^= 0xff;
      return r;
    });
    const d = new Device(t, { timeoutMs: 50 });
    expect((await d.hello()).buildId).toBe('build-1');
    expect(t.requests).toHaveLength(2);
    expect(t.requests[1].sequence).toBe(t.requests[0].sequence);
    expect(d.stats).toMatchObject({ resends: 1, damagedReplies: 1, timeouts: 0 }); // resent at once, without waiting
  });

  it('resends at once after a BAD_CRC reply', async () => {
    const t = new FakeTransport((req, attempt) =>
      attempt === 0 ? reply(req, Status.BAD_CRC, 'frame CRC mismatch') : reply(req, Status.OK, helloBody()));
    const d = new Device(t, { timeoutMs: 600_000 });
    await d.hello();
    expect(d.stats).toMatchObject({ resends: 1, badCrcReplies: 1, timeouts: 0 }); // no timeout was waited for
  });

  it('reports a line that damages every request', async () => {
    const t = new FakeTransport((req) => reply(req, Status.BAD_CRC, 'frame CRC mismatch'));
    const d = new Device(t, { timeoutMs: 50, retries: 1 });
    const e = await expectMcutrainError(d.hello(), /2 reached it damaged \(BAD_CRC\)/);
    expect(e.hint).toMatch(/corrupts or drops data/);
  });

  it('turns an error status into a McutrainError with the device message, without retrying', async () => {
    const t = new FakeTransport((req) => reply(req, Status.BAD_PAYLOAD, 'INFER payload is 3 bytes; the model inputs take 4'));
    const d = new Device(t, { timeoutMs: 50 });
    const e = await expectMcutrainError(d.request(Command.INFER, Uint8Array.of(1, 2, 3)),
      /fake device rejected INFER: BAD_PAYLOAD: INFER payload is 3 bytes; the model inputs take 4/);
    expect(e.hint).toBeDefined();
    expect(t.requests).toHaveLength(1);
    await expectMcutrainError(new Device(new FakeTransport((req) => reply(req, Status.UNKNOWN_COMMAND, 'this firmware was compiled without training (mcutrain compile --train)')))
      .request(0x10), /rejected TRAIN_STEP: UNKNOWN_COMMAND: this firmware was compiled without training/);
    await expectMcutrainError(new Device(new FakeTransport((req) => reply(req, Status.UNKNOWN_COMMAND, 'unknown training command 0x1e')))
      .request(0x1e), /rejected training command 0x1e: UNKNOWN_COMMAND/);
  });

  it('reports garbage that is not frames, showing what came', async () => {
    const t = new FakeTransport(() => new TextEncoder().encode('Hello from some other firmware\r\n'));
    const d = new Device(t, { timeoutMs: 30, retries: 1 });
    const e = await expectMcutrainError(d.hello(), /not mcutrain frames, starting "Hello from some other firmwa/);
    expect(e.hint).toMatch(/baud rate/);
  });

  it('ignores late replies to an earlier request and echoed requests', async () => {
    let last: Frame | undefined;
    const t = new FakeTransport((req) => {
      const stale = last ? reply(last, Status.OK, helloBody()) : new Uint8Array(0);
      last = req;
      const echo = encodeFrame(req.command, req.sequence, req.payload);
      const good = reply(req, Status.OK, helloBody());
      const out = new Uint8Array(stale.length + echo.length + good.length);
      out.set(stale); out.set(echo, stale.length); out.set(good, stale.length + echo.length);
      return out;
    });
    const d = new Device(t, { timeoutMs: 100 });
    await d.hello();
    await d.hello();
    expect(d.stats.staleReplies).toBe(1);
    expect(d.stats.resends).toBe(0);
  });

  it('refuses a reply for another command and a device of another protocol version', async () => {
    const wrong = new Device(new FakeTransport((req) => encodeFrame(Command.PROFILE | REPLY, req.sequence, Uint8Array.of(0))));
    await expectMcutrainError(wrong.hello(), /answered PROFILE to HELLO/);
    const old = new Device(new FakeTransport((req) => reply(req, Status.OK, helloBody(PROTOCOL_VERSION + 1))));
    const e = await expectMcutrainError(old.hello(), new RegExp(`speaks link protocol version ${PROTOCOL_VERSION + 1}; this mcutrain speaks version ${PROTOCOL_VERSION}`));
    expect(e.hint).toMatch(/rebuild and flash/);
    const short = new Device(new FakeTransport((req) => reply(req, Status.OK, helloBody().subarray(0, 30))));
    await expectMcutrainError(short.hello(), /malformed HELLO reply/);
  });

  it('checks input sizes before sending and output sizes after', async () => {
    const t = new FakeTransport(goodDevice);
    const d = new Device(t, { timeoutMs: 100 });
    await expectMcutrainError(d.infer(Uint8Array.of(1, 2, 3)), /takes 4 bytes of input \('in' int8\[1, 4\] \(4 bytes\)\); 3 were given/);
    await expectMcutrainError(d.inferTensors([Uint8Array.of(1), Uint8Array.of(2)]), /takes 1 input\(s\); 2 were given/);
    const sent = t.requests.length;
    expect(t.requests.filter((r) => r.command === Command.INFER)).toHaveLength(0);
    const shortReply = new Device(new FakeTransport((req) =>
      req.command === Command.HELLO ? reply(req, Status.OK, helloBody()) : reply(req, Status.OK, Uint8Array.of(1, 2))));
    await expectMcutrainError(shortReply.infer(Uint8Array.of(1, 2, 3, 4)), /answered INFER with 2 bytes of outputs; the model's outputs take 6/);
    expect(sent).toBe(1);
  });

  it('fails a pending request at once when the transport dies', async () => {
    const t = new FakeTransport(() => undefined);
    const d = new Device(t, { timeoutMs: 10_000 });
    const pending = d.hello();
    setTimeout(() => t.die('host engine x exited while in use (exit code 1); its stderr:\nboom'), 10);
    await expectMcutrainError(pending, /exited while in use.*\n.*boom/s);
    await expectMcutrainError(d.hello(), /exited while in use/);
  });

  it('queues concurrent requests instead of interleaving them', async () => {
    const t = new FakeTransport(goodDevice);
    const d = new Device(t, { timeoutMs: 200, firstSequence: 0 });
    await d.hello();
    const results = await Promise.all([1, 2, 3].map((v) => d.infer(Uint8Array.of(v, v, v, v))));
    expect(results.map((r) => r[0])).toEqual([2, 3, 4]);
    expect(t.requests.map((r) => [r.sequence, r.payload[0]])).toEqual([[0, undefined], [1, 1], [2, 2], [3, 3]]);
  });
});
