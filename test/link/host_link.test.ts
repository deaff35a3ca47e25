/**
 * The real C link server (firmware/link) with the host platform, built around a hand-written test
 * model (firmware/test/fake_model.c) with -Werror and ASan/UBSan, driven through the TS Device.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McutrainError } from '../../src/errors.ts';
import { Device } from '../../src/link/device.ts';
import { HostTransport } from '../../src/link/host_transport.ts';
import { Command } from '../../src/link/protocol.ts';
import { buildFakeEngine, expectResentAfterTimeouts, finish, FIRMWARE, openTampered, WARNINGS } from './fake_engine.ts';
import { run, runOk } from '../helpers/run.ts';

const IN_BYTES = 1024;

let dir: string;
let engine: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-link-'));
  engine = path.join(dir, 'engine');
  await buildFakeEngine(engine);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const open = (timeoutMs?: number) => openTampered(engine, timeoutMs);

function pattern(seed: number): Uint8Array {
  const bytes = new Uint8Array(IN_BYTES);
  for (let i = 0; i < IN_BYTES; i++) bytes[i] = (i * 37 + seed * 11) & 0xff;
  bytes[3] = 127; // saturates
  bytes[4] = 0x80; // -128
  return bytes;
}

function expected(input: Uint8Array, invocation: number): number[] {
  const out = Array.from(new Int8Array(input.buffer, input.byteOffset, input.length), (v) => (v === 127 ? 127 : v + 1) & 0xff);
  return [...out, invocation & 0xff, (invocation >> 8) & 0xff, 0, 0];
}

const invocationsOf = (reply: Uint8Array) => new DataView(reply.buffer, reply.byteOffset + IN_BYTES, 4).getInt32(0, true);

async function rejection(p: Promise<unknown>): Promise<McutrainError> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(McutrainError);
  return error as McutrainError;
}

describe('host link (real C server, fake model)', () => {
  it('answers HELLO with the model description', async () => {
    const { host, device } = await open();
    const info = await device.hello();
    expect(info).toMatchObject({
      protocolVersion: 3, modelHash: '0123456789abcdef', buildId: 'fake-model-build', tickUnit: 'ns',
      arenaBytes: 2 * IN_BYTES + 4, flashConstBytes: 1234, maxRequestBytes: 600, opCount: 2, training: true, features: 1,
    });
    expect(info.inputs).toEqual([{ name: 'image', dtype: 'int8', shape: [1, 16, 16, 4], bytes: IN_BYTES, scale: 0.5, zeroPoint: -3 }]);
    expect(info.outputs).toEqual([
      { name: 'plus_one', dtype: 'int8', shape: [1, 16, 16, 4], bytes: IN_BYTES, scale: 0.5, zeroPoint: -1 },
      { name: 'invocations', dtype: 'int32', shape: [1], bytes: 4, scale: 0, zeroPoint: 0 },
    ]);
    await finish(host, device);
  });

  it('runs INFER, PROFILE and RESET', async () => {
    const { host, device } = await open();
    await expect(rejection(device.profile())).resolves.toMatchObject({ message: expect.stringMatching(/BAD_STATE: no INFER since boot or RESET/) });
    for (let k = 1; k <= 3; k++) {
      const input = pattern(k);
      expect(Array.from(await device.infer(input))).toEqual(expected(input, k));
    }
    const [plusOne, count] = await device.inferTensors([pattern(9)]);
    expect(Array.from(plusOne)).toEqual(expected(pattern(9), 4).slice(0, IN_BYTES));
    expect(Array.from(count)).toEqual([4, 0, 0, 0]);

    const profile = await device.profile();
    expect(profile.tickUnit).toBe('ns');
    expect(profile.opTicks).toHaveLength(2);
    expect(profile.opTicks[0]).toBeGreaterThan(0);
    expect(profile.totalTicks).toBeGreaterThanOrEqual(profile.opTicks[0] + profile.opTicks[1]);
    expect(profile.totalTicks).toBeLessThan(1e9);
    expect(profile).toMatchObject({ stackHighWaterBytes: undefined, arenaBytes: 2 * IN_BYTES + 4 });

    await device.reset();
    const afterReset = await rejection(device.profile());
    expect(afterReset.message).toMatch(/BAD_STATE/);
    expect(Array.from(await device.infer(pattern(1)))).toEqual(expected(pattern(1), 5));
    expect(device.stats.resends).toBe(0);
    await finish(host, device);
  });

  it('answers a request with a corrupted CRC with BAD_CRC; the resend runs it once', async () => {
    const { host, tamper, device } = await open();
    await device.hello();
    tamper.damageNextWrite = (frame) => {
      frame[frame.length - 2] ^= 0x5a;
      return frame;
    };
    const reply = await device.infer(pattern(2));
    expect(Array.from(reply)).toEqual(expected(pattern(2), 1));
    expect(device.stats).toMatchObject({ badCrcReplies: 1, resends: 1, timeouts: 0 });
    await finish(host, device);
  });

  it('resends the remembered reply to a retry instead of running the request again', async () => {
    const { host, tamper, device } = await open(600);
    expect(invocationsOf(await device.infer(pattern(1)))).toBe(1);
    tamper.loseNextReply = true;
    const retried = await device.infer(pattern(2));
    expectResentAfterTimeouts(device);
    expect(Array.from(retried)).toEqual(expected(pattern(2), 2)); // ran once, not twice
    expect(invocationsOf(await device.infer(pattern(3)))).toBe(3);
    await finish(host, device);
  });

  it('recovers from a request that lost a byte (device frame timeout, then resend)', async () => {
    const { host, tamper, device } = await open(600);
    await device.hello();
    tamper.damageNextWrite = (frame) => new Uint8Array([...frame.subarray(0, 100), ...frame.subarray(101)]);
    expect(Array.from(await device.infer(pattern(4)))).toEqual(expected(pattern(4), 1)); // ran once
    expectResentAfterTimeouts(device);
    await finish(host, device);
  });

  it('skips garbage on the line and a header with an impossible length', async () => {
    const { host, tamper, device } = await open();
    await host.write(new TextEncoder().encode('noise \xa5 more noise'));
    await host.write(Uint8Array.of(0xa5, 0x5a, 0x01, 0x00, 0xff, 0xff, 0xff, 0x7f)); // 2 GiB announced
    expect((await device.hello()).buildId).toBe('fake-model-build');
    // A false sync whose impossible length runs into the real frame: the device rescans the header.
    tamper.damageNextWrite = (frame) => new Uint8Array([0xa5, 0x5a, 0xff, 0xff, 0xff, ...frame]);
    expect((await device.hello()).buildId).toBe('fake-model-build');
    expect(device.stats.resends).toBe(0);
    await finish(host, device);
  });

  it('reports wrong sizes, oversize requests and unknown commands clearly', async () => {
    const { host, device } = await open();
    expect((await rejection(device.request(Command.INFER, new Uint8Array(10)))).message)
      .toMatch(/rejected INFER: BAD_PAYLOAD: INFER payload is 10 bytes; the model inputs take 1024/);
    expect((await rejection(device.request(Command.INFER, new Uint8Array(5000)))).message)
      .toMatch(/rejected INFER: TOO_LARGE: request payload of 5000 bytes exceeds the device buffer of 600/);
    expect((await rejection(device.request(0x1f))).message)
      .toMatch(/rejected training command 0x1f: UNKNOWN_COMMAND: unknown training command 0x1f/);
    expect((await rejection(device.request(0x33))).message).toMatch(/UNKNOWN_COMMAND: unknown command 0x33/);
    expect((await rejection(device.infer(new Uint8Array(3)))).message).toMatch(/takes 1024 bytes of input/);
    expect(Array.from(await device.infer(pattern(5)))).toEqual(expected(pattern(5), 1)); // still serving
    await finish(host, device);
  });

  it('exits 0 at the end of its input', async () => {
    const r = await run(engine, []);
    expect(r.code).toBe(0);
    expect(r.out.length).toBe(0);
    expect(r.err).toBe('');
  });

  it('reports a missing engine and one that dies, with its stderr', async () => {
    await expect(rejection(HostTransport.start(path.join(dir, 'no-such-engine'))))
      .resolves.toMatchObject({ message: expect.stringMatching(/no-such-engine does not exist/) });
    const dying = path.join(dir, 'dying.sh');
    writeFileSync(dying, '#!/bin/sh\necho "engine: arena allocation failed" >&2\nexit 3\n');
    chmodSync(dying, 0o755);
    const host = await HostTransport.start(dying);
    const device = new Device(host, { timeoutMs: 600_000 }); // only the engine's exit may end the request
    const e = await rejection(device.hello());
    expect(e.message).toMatch(/dying\.sh exited while in use \(exit code 3\); its stderr:\nengine: arena allocation failed/);
    await expect(rejection(device.close())).resolves.toBeInstanceOf(McutrainError);
  });
});

describe('link build hygiene', () => {
  it('compiles without sanitizers at -O2 -Werror', async () => {
    await buildFakeEngine(path.join(dir, 'engine-plain'), [], false);
  });

  const arm = spawnSync('arm-none-eabi-gcc', ['--version']).status === 0;
  it.skipIf(!arm)('builds for Cortex-M without malloc or stdio', async () => {
    const objects = await Promise.all(['link/link.c', 'link/crc32.c'].map(async (src) => {
      const obj = path.join(dir, path.basename(src, '.c') + '.o');
      await runOk('arm-none-eabi-gcc', [...WARNINGS, '-mcpu=cortex-m0plus', '-mthumb', '-ffreestanding', '-c', path.join(FIRMWARE, src), '-o', obj]);
      return obj;
    }));
    const undefinedSymbols = (await runOk('arm-none-eabi-nm', ['-u', ...objects])).out;
    expect(undefinedSymbols).not.toMatch(/\b(malloc|calloc|realloc|free|printf|fprintf|sprintf|snprintf|puts|putchar|fwrite)\b/);
    expect(undefinedSymbols).toMatch(/mt_model_invoke/);
  });
});
