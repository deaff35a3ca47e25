/**
 * The training commands of the real C link server (firmware/link) with the fake model's hand-written
 * training engine (firmware/test/fake_model.c), under ASan/UBSan with -Werror, driven through the TS Device.
 * The fake's step: loss = label + sum(sample)/1024 + bias[label]; predicted = sum mod 3; an update adds 1
 * to weights[label] and bias[label], 0.5 to the weights' momentum[label], 0.25 to the bias's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McutrainError } from '../../src/errors.ts';
import { Command, encodeReadParams, encodeSample, encodeSetHyper, encodeWriteParams } from '../../src/link/protocol.ts';
import { buildFakeEngine, expectResentAfterTimeouts, finish, openTampered } from './fake_engine.ts';


const SAMPLE_BYTES = 16;
const W_BYTES = 6000;
const W_MOMENTUM = 2000;
const PARAM_BYTES = W_BYTES + 12;
const MOMENTUM_BYTES = 4 * (W_MOMENTUM + 3);

let dir: string;
const engines: Record<'train' | 'noTrain' | 'noMomentum', string> = { train: '', noTrain: '', noMomentum: '' };

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-train-link-'));
  const variants: [keyof typeof engines, string[]][] = [['train', []], ['noTrain', ['-DFAKE_NO_TRAIN']], ['noMomentum', ['-DFAKE_NO_MOMENTUM']]];
  for (const [name, defines] of variants) {
    engines[name] = path.join(dir, name);
    await buildFakeEngine(engines[name], defines);
  }
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const open = (engine = engines.train, timeoutMs?: number) => openTampered(engine, timeoutMs);

async function rejection(p: Promise<unknown>): Promise<McutrainError> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(McutrainError);
  return error as McutrainError;
}

function sample(seed: number): Uint8Array {
  return Uint8Array.from({ length: SAMPLE_BYTES }, (_, i) => (i * 29 + seed * 53) & 0xff);
}

const sumOf = (s: Uint8Array) => new Int8Array(s.buffer, s.byteOffset, s.length).reduce((a, v) => a + v, 0);
const expectedLoss = (s: Uint8Array, label: number, bias: number) => Math.fround(Math.fround(label + sumOf(s) / 1024) + bias);
const expectedPrediction = (s: Uint8Array) => ((sumOf(s) % 3) + 3) % 3;

const int32s = (bytes: Uint8Array) => Array.from(new Int32Array(bytes.slice().buffer));
const floats = (bytes: Uint8Array) => new Float32Array(bytes.slice().buffer);

describe('training link (real C server, fake training engine)', () => {
  it('reports training in HELLO and describes the engine in TRAIN_INFO', async () => {
    const { host, device } = await open();
    expect(await device.hello()).toMatchObject({ training: true, features: 1 });
    const info = await device.trainInfo();
    expect(info).toEqual({
      classes: 3, inputBytes: SAMPLE_BYTES, lr: Math.fround(0.05), momentum: 0,
      params: [
        { name: 'fc/weights', dtype: 'int8', bytes: W_BYTES, momentumFloats: W_MOMENTUM },
        { name: 'fc/bias', dtype: 'int32', bytes: 12, momentumFloats: 3 },
      ],
      paramBytes: PARAM_BYTES, momentumBytes: MOMENTUM_BYTES, steps: 0,
    });
    await finish(host, device);
  });

  it('trains, evaluates without updating, and reads the updated parameters back in chunks', async () => {
    const { host, device } = await open();
    const before = await device.readParams('params');
    expect(before.length).toBe(PARAM_BYTES);
    expect(before.subarray(0, W_BYTES).every((b) => b === 0)).toBe(true);
    expect(int32s(before.subarray(W_BYTES))).toEqual([100, -200, 300]);
    expect((await device.readParams('momentum')).every((b) => b === 0)).toBe(true);

    const s = sample(1);
    const first = await device.trainStep(s, 1);
    expect(first.loss).toBe(expectedLoss(s, 1, -200));
    expect(first.predicted).toBe(expectedPrediction(s));
    expect(first.ticks).toBeGreaterThan(0);
    expect((await device.trainStep(s, 1)).loss).toBe(expectedLoss(s, 1, -199));
    const evaluated = await device.evaluate(s, 1);
    expect(evaluated.loss).toBe(expectedLoss(s, 1, -198));
    expect((await device.evaluate(s, 1)).loss).toBe(evaluated.loss); // no update
    await device.trainStep(sample(2), 2);

    const requests = device.stats.requests;
    const after = await device.readParams('params');
    expect(device.stats.requests - requests).toBe(2); // 6012 bytes in replies of at most 4096
    expect(Array.from(after.subarray(0, 4))).toEqual([0, 2, 1, 0]);
    expect(after.subarray(4, W_BYTES).every((b) => b === 0)).toBe(true);
    expect(int32s(after.subarray(W_BYTES))).toEqual([100, -198, 301]);
    const m = floats(await device.readParams('momentum'));
    expect(Array.from(m.subarray(0, 3))).toEqual([0, 1, 0.5]);
    expect(Array.from(m.subarray(W_MOMENTUM))).toEqual([0, 0.5, 0.25]);

    // Inference still works alongside, and PROFILE still describes the last INFER.
    expect((await device.infer(new Uint8Array(1024))).length).toBe(1028);
    await device.trainStep(s, 0);
    expect((await device.profile()).opTicks).toHaveLength(2);
    await finish(host, device);
  });

  it('writes parameters and momentum in chunks that fit the receive buffer, at any offset', async () => {
    const { host, device } = await open();
    const pattern = Uint8Array.from({ length: PARAM_BYTES }, (_, i) => (i * 13 + 7) & 0xff);
    const requests = device.stats.requests;
    await device.writeParams('params', pattern);
    expect(device.stats.requests - requests).toBe(2 + Math.ceil(PARAM_BYTES / (600 - 5))); // HELLO, TRAIN_INFO, 11 writes
    expect(Array.from(await device.readParams('params'))).toEqual(Array.from(pattern));

    // A write across the boundary of the two tensors, and one inside the bias.
    await device.writeParams('params', Uint8Array.of(1, 2, 3, 4, 5, 6), W_BYTES - 2);
    await device.writeParams('params', new Uint8Array(Int32Array.of(-7).buffer), W_BYTES + 8);
    const back = await device.readParams('params');
    expect(Array.from(back.subarray(W_BYTES - 2, W_BYTES + 4))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(int32s(back.subarray(W_BYTES)).at(2)).toBe(-7);

    // Momentum at an offset that splits floats.
    const m = new Float32Array([1.5, -2.25, 3.125]);
    await device.writeParams('momentum', new Uint8Array(m.buffer).subarray(2, 10), 4 * W_MOMENTUM - 2);
    const mom = floats(await device.readParams('momentum'));
    expect(mom[W_MOMENTUM]).toBe(-2.25);
    expect(new Uint8Array(mom.buffer).subarray(4 * W_MOMENTUM - 2, 4 * W_MOMENTUM)).toEqual(new Uint8Array(m.buffer).subarray(2, 4));

    // The written bias is what the next step sees.
    await device.writeParams('params', new Uint8Array(Int32Array.of(0, 0, 0).buffer), W_BYTES);
    expect((await device.evaluate(sample(3), 0)).loss).toBe(expectedLoss(sample(3), 0, 0));
    await finish(host, device);
  });

  it('sets the hyperparameters and refuses bad ones', async () => {
    const { host, device } = await open();
    await device.setHyper(0.01, 0.9);
    expect(await device.trainInfo()).toMatchObject({ lr: Math.fround(0.01), momentum: Math.fround(0.9) });
    await device.setHyper(0.2);
    expect(await device.trainInfo()).toMatchObject({ lr: Math.fround(0.2), momentum: 0 });

    const hyper = (lr: number, momentum: number) => rejection(device.request(Command.SET_HYPER, encodeSetHyper(lr, momentum)));
    expect((await hyper(NaN, 0)).message).toMatch(/rejected SET_HYPER: BAD_PAYLOAD: lr must be a finite number >= 0/);
    expect((await hyper(Infinity, 0)).message).toMatch(/lr must be a finite number >= 0/);
    expect((await hyper(-0.1, 0)).message).toMatch(/lr must be a finite number >= 0/);
    expect((await hyper(0.1, 1)).message).toMatch(/BAD_PAYLOAD: momentum must lie in \[0, 1\)/);
    expect((await hyper(0.1, -0.5)).message).toMatch(/momentum must lie in \[0, 1\)/);
    expect((await rejection(device.request(Command.SET_HYPER, new Uint8Array(4)))).message)
      .toMatch(/SET_HYPER payload is 4 bytes; lr and momentum take 8/);
    expect(await device.trainInfo()).toMatchObject({ lr: Math.fround(0.2), momentum: 0 }); // unchanged

    expect((await rejection(device.setHyper(-1))).message).toMatch(/learning rate must be a finite number >= 0/);
    expect((await rejection(device.setHyper(0.1, 1))).message).toMatch(/momentum must lie in \[0, 1\), not 1/);
    await finish(host, device);
  });

  it('refuses momentum without momentum buffers', async () => {
    const { host, device } = await open(engines.noMomentum);
    expect((await device.trainInfo()).momentumBytes).toBe(0);
    expect(await device.readParams('momentum')).toEqual(new Uint8Array(0));
    const client = await rejection(device.setHyper(0.1, 0.9));
    expect(client.message).toMatch(/has no momentum buffers, so momentum must be 0/);
    expect(client.hint).toMatch(/compile the project with momentum/);
    expect((await rejection(device.request(Command.SET_HYPER, encodeSetHyper(0.1, 0.5)))).message)
      .toMatch(/BAD_PAYLOAD: no momentum buffers: compile with momentum to use momentum != 0/);
    await device.setHyper(0.1, 0);
    const s = sample(4);
    await device.trainStep(s, 0);
    expect(int32s((await device.readParams('params')).subarray(W_BYTES))).toEqual([101, -200, 300]);
    await finish(host, device);
  });

  it('reports bad payloads and out-of-range accesses with the sizes', async () => {
    const { host, device } = await open();
    const bad = async (command: number, payload: Uint8Array) => (await rejection(device.request(command, payload))).message;
    expect(await bad(Command.TRAIN_STEP, new Uint8Array(5))).toMatch(/rejected TRAIN_STEP: BAD_PAYLOAD: TRAIN_STEP payload is 5 bytes; sample \+ label take 20/);
    expect(await bad(Command.EVALUATE, new Uint8Array(21))).toMatch(/rejected EVALUATE: BAD_PAYLOAD: EVALUATE payload is 21 bytes/);
    expect(await bad(Command.TRAIN_STEP, encodeSample(sample(1), 3))).toMatch(/BAD_PAYLOAD: label 3 is not a class \(0\.\.2\)/);
    expect(await bad(Command.EVALUATE, encodeSample(sample(1), -1))).toMatch(/label -1 is not a class \(0\.\.2\)/);
    expect(await bad(Command.TRAIN_STEP, encodeSample(sample(1), -2147483648))).toMatch(/label -2147483648 is not a class/);

    expect(await bad(Command.READ_PARAMS, new Uint8Array(3))).toMatch(/READ_PARAMS payload is 3 bytes; space, offset and length take 9/);
    const read = (space: number, offset: number, length: number) => {
      const p = encodeReadParams('params', offset, length);
      p[0] = space;
      return bad(Command.READ_PARAMS, p);
    };
    expect(await read(2, 0, 1)).toMatch(/space 2 is neither 0 \(params\) nor 1 \(momentum\)/);
    expect(await read(0, 6000, 13)).toMatch(/read of 13 B at 6000 exceeds the 6012 B of params/);
    expect(await read(1, 8012, 1)).toMatch(/read of 1 B at 8012 exceeds the 8012 B of momentum/);
    expect(await read(0, 0xffffffff, 2)).toMatch(/read of 2 B at 4294967295 exceeds the 6012 B of params/);
    expect(await read(0, 0, 4097)).toMatch(/read of 4097 B exceeds the limit of 4096 B per reply/);
    expect(Array.from(await device.request(Command.READ_PARAMS, encodeReadParams('params', 6012, 0)))).toEqual([]);

    expect(await bad(Command.WRITE_PARAMS, new Uint8Array(3))).toMatch(/WRITE_PARAMS payload is 3 bytes; space and offset alone take 5/);
    expect(await bad(Command.WRITE_PARAMS, encodeWriteParams('momentum', 8011, new Uint8Array(2))))
      .toMatch(/write of 2 B at 8011 exceeds the 8012 B of momentum/);
    expect(await bad(Command.WRITE_PARAMS, encodeWriteParams('params', 0, new Uint8Array(2000))))
      .toMatch(/TOO_LARGE: request payload of 2005 bytes exceeds the device buffer of 600/);
    expect(await bad(0x16, new Uint8Array(0))).toMatch(/UNKNOWN_COMMAND: unknown training command 0x16/);
    expect(int32s((await device.readParams('params')).subarray(W_BYTES))).toEqual([100, -200, 300]); // nothing ran

    // The client's own checks, before anything is sent.
    expect((await rejection(device.trainStep(new Uint8Array(3), 0))).message).toMatch(/takes samples of 16 bytes; 3 were given to TRAIN_STEP/);
    expect((await rejection(device.evaluate(sample(1), 3))).message).toMatch(/label 3 is not a class of the model \(0 to 2\)/);
    expect((await rejection(device.writeParams('params', new Uint8Array(13), 6000))).message)
      .toMatch(/cannot write 13 bytes at offset 6000: the params on .* take 6012 bytes/);
    await finish(host, device);
  });

  it('answers a retried TRAIN_STEP from the remembered reply and updates once', async () => {
    const { host, tamper, device } = await open(engines.train, 600);
    const s = sample(5);
    await device.trainInfo();
    tamper.loseNextReply = true;
    const retried = await device.trainStep(s, 2);
    expectResentAfterTimeouts(device);
    expect(retried.loss).toBe(expectedLoss(s, 2, 300)); // the reply of the one run
    expect(int32s((await device.readParams('params')).subarray(W_BYTES))).toEqual([100, -200, 301]);
    expect((await device.trainStep(s, 2)).loss).toBe(expectedLoss(s, 2, 301));
    // A damaged request is answered BAD_CRC and runs once after the resend.
    tamper.damageNextWrite = (frame) => {
      frame[frame.length - 2] ^= 0x5a;
      return frame;
    };
    expect((await device.trainStep(s, 2)).loss).toBe(expectedLoss(s, 2, 302));
    expect(int32s((await device.readParams('params')).subarray(W_BYTES))).toEqual([100, -200, 303]);
    expect(Array.from(floats(await device.readParams('momentum')).subarray(W_MOMENTUM))).toEqual([0, 0, 0.75]);
    await finish(host, device);
  });
});

describe('firmware without training', () => {
  it('clears the HELLO bit and answers every training command UNKNOWN_COMMAND with how to get it', async () => {
    const { host, device } = await open(engines.noTrain);
    expect(await device.hello()).toMatchObject({ training: false, features: 0 });
    for (const command of [Command.TRAIN_STEP, Command.EVALUATE, Command.SET_HYPER, Command.TRAIN_INFO, Command.READ_PARAMS, Command.WRITE_PARAMS, 0x1f]) {
      expect((await rejection(device.request(command, new Uint8Array(9)))).message)
        .toMatch(/UNKNOWN_COMMAND: this firmware was compiled without training \(mcutrain compile --train\)/);
    }
    for (const call of [device.trainInfo(), device.trainStep(sample(1), 0), device.setHyper(0.1), device.readParams('params')]) {
      const e = await rejection(call);
      expect(e.message).toMatch(/runs firmware compiled without training/);
      expect(e.hint).toMatch(/--train/);
    }
    expect((await device.infer(new Uint8Array(1024))).length).toBe(1028); // inference unaffected
    await finish(host, device);
  });
});
