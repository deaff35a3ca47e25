/**
 * Zero-copy samples (docs/protocol.md, version 3): the CHUNKs of INFER, TRAIN_STEP and EVALUATE land in the
 * model's input tensors, so the receive buffer (600 B in the fake, firmware/test/fake_model.c) is smaller than
 * the 1024-B input. The fake's training input lies in its arena across the end of the inference input and the
 * start of output 0, as generated code's may: these tests pin what happens when a staged sample and another
 * request meet there. Real C server under ASan/UBSan, frames written by hand where the order matters.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32 } from '../../src/link/crc32.ts';
import { Device } from '../../src/link/device.ts';
import { encodeFrame, FrameDecoder, type Frame } from '../../src/link/frame.ts';
import { HostTransport } from '../../src/link/host_transport.ts';
import { Command, encodeChunk, encodeReadParams, encodeReplyPart, encodeSample, encodeStaged, REPLY, STAGED, Status } from '../../src/link/protocol.ts';
import { buildFakeEngine, finish } from './fake_engine.ts';
import { FAKE, plusOne } from './faults.ts';

let dir: string;
let engine: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-zero-copy-'));
  engine = path.join(dir, 'engine');
  await buildFakeEngine(engine);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Frames sent one at a time, each waiting for its reply: the order of requests is the test's. */
async function openRaw() {
  const host = await HostTransport.start(engine);
  const decoder = new FrameDecoder();
  const waiting = new Map<number, (f: Frame) => void>();
  host.onData((chunk) => {
    for (const f of decoder.push(chunk)) waiting.get(f.sequence)?.(f);
  });
  let nextSeq = 1;
  /** Sends one frame (a new sequence unless `seq` is given, for a retry) and returns [status, rest of the reply]. */
  const send = async (command: number, payload: Uint8Array, seq = nextSeq++): Promise<[number, Uint8Array]> => {
    const reply = new Promise<Frame>((resolve) => waiting.set(seq, resolve));
    await host.write(encodeFrame(command, seq, payload));
    const f = await reply;
    waiting.delete(seq);
    expect(f.command).toBe(command | REPLY);
    return [f.payload[0], f.payload.subarray(1)];
  };
  /** Stages `payload` for `command` in chunks of 256 B; every chunk must land. */
  const stage = async (command: number, payload: Uint8Array) => {
    for (let at = 0; at < payload.length; at += 256) {
      expect((await send(Command.CHUNK, encodeChunk(command, at, payload.subarray(at, at + 256))))[0]).toBe(Status.OK);
    }
  };
  const staged = (command: number, payload: Uint8Array, seq?: number) =>
    send(command | STAGED, encodeStaged(payload.length, crc32(payload)), seq);
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  /** Closes the engine, which must exit 0 with nothing on stderr (no sanitizer report). */
  const done = async () => {
    await host.close();
    expect(host.exit).toEqual({ code: 0, signal: null });
    expect(host.stderr).toBe('');
  };
  return { send, stage, staged, text, done };
}

const input = (seed: number) => Uint8Array.from({ length: FAKE.inBytes }, (_, i) => (i * 7 + seed * 31) & 0xff);
const sample = (seed: number) => Uint8Array.from({ length: FAKE.sampleBytes }, (_, i) => (i * 29 + seed * 53) & 0xff);
const sumOf = (s: Uint8Array) => new Int8Array(s.buffer, s.byteOffset, s.length).reduce((a, v) => a + v, 0);
/** The fake's loss before any update (bias 100, -200, 300). */
const lossOf = (s: Uint8Array, label: number) => Math.fround(Math.fround(label + sumOf(s) / 1024) + [100, -200, 300][label]);
const lossIn = (reply: Uint8Array) => new DataView(reply.buffer, reply.byteOffset, 4).getFloat32(0, true);
const invocationsIn = (reply: Uint8Array) => new DataView(reply.buffer, reply.byteOffset + FAKE.inBytes, 4).getInt32(0, true);

describe('zero-copy samples (real C server, fake model)', () => {
  it('runs an INFER larger than the receive buffer, staged straight into the input tensor', async () => {
    const host = await HostTransport.start(engine);
    const device = new Device(host);
    const info = await device.hello();
    expect(info.maxRequestBytes).toBe(FAKE.rxBytes); // 600 B, under the 1024-B input
    expect(info.maxRequestBytes).toBeLessThan(info.inputs[0].bytes);
    const reply = await device.infer(input(1));
    expect(Array.from(reply.subarray(0, FAKE.inBytes))).toEqual(Array.from(plusOne(input(1))));
    expect(device.stats).toMatchObject({ requests: 2, chunks: FAKE.inBytes / 256 });
    await finish(host, device);
  });

  it('refuses chunks and staged requests past the end of the input, the sample and label, and the buffer', async () => {
    const { done, send, text } = await openRaw();
    const chunk = async (command: number, offset: number, n: number) => {
      const [status, rest] = await send(Command.CHUNK, encodeChunk(command, offset, new Uint8Array(n)));
      expect(status).toBe(Status.TOO_LARGE);
      return text(rest);
    };
    expect(await chunk(Command.INFER, 1000, 25)).toBe("chunk of 25 B at 1000 exceeds the 1024 B of the model's input");
    expect(await chunk(Command.TRAIN_STEP, 16, 5)).toBe("chunk of 5 B at 16 exceeds the 20 B of the model's input");
    expect(await chunk(Command.WRITE_PARAMS, 512, 100)).toBe('chunk of 100 B at 512 exceeds the 600 B of the device buffer');
    const [status, rest] = await send(Command.EVALUATE | STAGED, encodeStaged(21, 0));
    expect([status, text(rest)]).toEqual([Status.TOO_LARGE, "staged payload of 21 bytes exceeds the 20 B of the model's input"]);
    const [bad, message] = await send(Command.CHUNK, new Uint8Array(4));
    expect([bad, text(message)]).toEqual([Status.BAD_PAYLOAD, 'CHUNK payload is 4 bytes; command + offset + 0..256 bytes expected']);
    await done();
  });

  it('runs a staged TRAIN_STEP on its sample in the training input and its label; a PROFILE in between keeps them', async () => {
    const { done, send, stage, staged } = await openRaw();
    await stage(Command.INFER, input(2));
    expect((await staged(Command.INFER, input(2)))[0]).toBe(Status.OK);
    const payload = encodeSample(sample(1), 2);
    await stage(Command.TRAIN_STEP, payload);
    expect((await send(Command.PROFILE, new Uint8Array(0)))[0]).toBe(Status.OK); // runs no model code
    const [status, reply] = await staged(Command.TRAIN_STEP, payload);
    expect(status).toBe(Status.OK);
    expect(lossIn(reply)).toBe(lossOf(sample(1), 2));
    expect(await biases(send)).toEqual([100, -200, 301]);
    await done();
  });

  it('answers NOT_STAGED, running nothing, when an INFER overwrote a staged sample; staged again, the step runs once', async () => {
    const { done, send, stage, staged, text } = await openRaw();
    const payload = encodeSample(sample(3), 1);
    await stage(Command.TRAIN_STEP, payload);
    await stage(Command.INFER, input(3)); // the inference input ends where the training input starts
    expect((await staged(Command.INFER, input(3)))[0]).toBe(Status.OK); // and output 0 covers the rest
    const [status, message] = await staged(Command.TRAIN_STEP, payload, 100);
    expect([status, text(message)]).toEqual([Status.NOT_STAGED, 'staged payload does not match its CRC: send its chunks again']);
    expect(await biases(send)).toEqual([100, -200, 300]); // nothing ran
    await stage(Command.TRAIN_STEP, payload);
    const [ok, reply] = await staged(Command.TRAIN_STEP, payload, 100); // the same frame, as the client resends it
    expect(ok).toBe(Status.OK);
    expect(lossIn(reply)).toBe(lossOf(sample(3), 1));
    expect(await biases(send)).toEqual([100, -199, 300]);
    await done();
  });

  it('forgets a remembered INFER once a sample is staged over its outputs, but still answers a retried TRAIN_STEP without running it', async () => {
    const { done, send, stage, staged } = await openRaw();
    const frameCrc = (command: number, seq: number, payload: Uint8Array) => {
      const f = encodeFrame(command, seq, payload);
      return new DataView(f.buffer).getUint32(f.length - 4, true);
    };
    await stage(Command.INFER, input(4));
    const [, first] = await staged(Command.INFER, input(4), 50);
    expect(invocationsIn(first)).toBe(1);
    const inferCrc = frameCrc(Command.INFER | STAGED, 50, encodeStaged(FAKE.inBytes, crc32(input(4))));
    expect((await send(Command.REPLY_PART, encodeReplyPart(50, inferCrc, 0, 64)))[0]).toBe(Status.OK);

    const step = encodeSample(sample(5), 0);
    await stage(Command.TRAIN_STEP, step); // lands on output 0's first bytes
    expect((await send(Command.REPLY_PART, encodeReplyPart(50, inferCrc, 0, 64)))[0]).toBe(Status.BAD_STATE);
    expect((await staged(Command.INFER, input(4), 50))[0]).toBe(Status.NOT_STAGED); // its input was overwritten too

    const [, stepReply] = await staged(Command.TRAIN_STEP, step, 60);
    await stage(Command.INFER, input(6)); // the next sample, over the training input
    const [again, againReply] = await staged(Command.TRAIN_STEP, step, 60); // a retry: answered, not run
    expect(again).toBe(Status.OK);
    expect(Array.from(againReply)).toEqual(Array.from(stepReply));
    expect(await biases(send)).toEqual([101, -200, 300]); // one update
    await done();
  });
});

/** The fake's three int32 biases, read back (params space, after the 6000 weight bytes). */
async function biases(send: (command: number, payload: Uint8Array) => Promise<[number, Uint8Array]>): Promise<number[]> {
  const [status, bytes] = await send(Command.READ_PARAMS, encodeReadParams('params', FAKE.weightBytes, 12));
  expect(status).toBe(Status.OK);
  return Array.from(new Int32Array(bytes.slice().buffer));
}
