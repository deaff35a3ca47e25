/**
 * Fault injection against the real C link server with the fake model (firmware/test/fake_model.c),
 * shared by the short runs in link_faults.test.ts and the long ones of `npm run test:faults`
 * (scripts/faults.ts):
 *  - fuzz: malformed frames of every kind straight into the device's parser, with a HELLO probe after
 *    each batch; figures of frames tried, crashes, sanitizer reports, hangs, silent wrong answers
 *    (an OK to a frame that must be refused) and clean errors;
 *  - lossy: INFERs and TRAIN_STEPs through a LossyTransport, each result compared with a clean run.
 */
import { McutrainError } from '../../src/errors.ts';
import { Device } from '../../src/link/device.ts';
import { encodeFrame, FrameDecoder } from '../../src/link/frame.ts';
import { crc32 } from '../../src/link/crc32.ts';
import { Command, encodeChunk, encodeReadParams, encodeReplyPart, encodeStaged, REPLY, STAGED, Status } from '../../src/link/protocol.ts';
import type { Transport } from '../../src/link/transport.ts';
import { seededUniform } from '../../src/util/random.ts';
import { LossyTransport, type LossCounts } from './lossy_transport.ts';

/** The fake model's sizes (firmware/test/fake_model.c). */
export const FAKE = { inBytes: 1024, outBytes: 1028, rxBytes: 600, sampleBytes: 16, classes: 3, weightBytes: 6000, paramBytes: 6012 };

/** A running device under test: its transport, and how to tell that it died and why. */
export interface Target {
  transport: Transport;
  /** Whatever it wrote to stderr (a sanitizer report), or '' where there is none. */
  stderr(): string;
}

export interface FuzzFigures {
  target: string;
  tried: number;
  crashed: number;
  sanitizerReports: number;
  hung: number;
  silentWrong: number;
  /** Frames answered with an error status. */
  cleanError: number;
  /** Frames the parser dropped without an answer (bad CRC it could not attribute, impossible lengths, truncation). */
  ignored: number;
  /** Frames that were valid after all and answered OK. */
  accepted: number;
  byCategory: Record<string, number>;
  afterwards: { hello: boolean; inferCorrect: boolean };
  examples: string[];
}

interface FuzzFrame {
  category: string;
  bytes: Uint8Array;
  /** The sequence it carries, when it is one frame the device can answer. */
  sequence?: number;
  /** An OK answer would be wrong. */
  mustReject: boolean;
  /** mustReject holds only if this frame, sent before, was answered (a frame cut short may swallow it). */
  after?: FuzzFrame;
}

const FUZZ_SEQUENCES = 200; // fuzz frames use 0..199; the probes 200..255

/** Builds the frames of one fuzz case from the generator `r`; several frames where the case is a sequence. */
function fuzzCase(r: () => number, seq: () => number): FuzzFrame[] {
  const int = (n: number) => Math.floor(r() * n);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const frame = (category: string, command: number, payload: Uint8Array, mustReject: boolean): FuzzFrame => {
    const s = seq();
    return { category, bytes: encodeFrame(command, s, payload), sequence: s, mustReject };
  };
  // Payload sizes each command accepts; undefined = any size.
  const strict: Record<number, (n: number) => boolean> = {
    [Command.INFER]: (n) => n === FAKE.inBytes,
    [Command.CHUNK]: (n) => n >= 5 && n <= 261,
    [Command.REPLY_PART]: (n) => n === 13,
    [Command.TRAIN_STEP]: (n) => n === FAKE.sampleBytes + 4,
    [Command.EVALUATE]: (n) => n === FAKE.sampleBytes + 4,
    [Command.SET_HYPER]: (n) => n === 8,
    [Command.READ_PARAMS]: (n) => n === 9,
    [Command.WRITE_PARAMS]: (n) => n >= 5 && n <= FAKE.rxBytes,
  };
  const lenient = new Set<number>([Command.HELLO, Command.PROFILE, Command.TRAIN_INFO]);
  switch (int(7)) {
    case 0: { // random bytes, sometimes with a sync pattern inside
      const b = bytes(1 + int(64));
      if (r() < 0.5 && b.length > 2) b.set([0xa5, 0x5a], int(b.length - 1));
      return [{ category: 'random bytes', bytes: b, mustReject: true }];
    }
    case 1: { // a frame with a wrong CRC
      const f = frame('bad CRC', int(0x80), bytes(int(300)), true);
      f.bytes[f.bytes.length - 1 - int(4)] ^= 1 + int(255);
      return [f];
    }
    case 2: { // an impossible or oversized length
      const s = seq();
      if (r() < 0.5) {
        const header = encodeFrame(int(0x20), s, new Uint8Array(0)).subarray(0, 8);
        new DataView(header.buffer, header.byteOffset).setUint32(4, (1 << 20) + 1 + int(0x7fffffff), true);
        return [{ category: 'oversized length', bytes: Uint8Array.from([...header, ...bytes(int(16))]), sequence: s, mustReject: true }];
      }
      const command = [Command.INFER, Command.CHUNK, Command.WRITE_PARAMS, Command.TRAIN_STEP][int(4)];
      const n = command === Command.CHUNK ? 261 + int(1200) : FAKE.rxBytes + 1 + int(2000);
      return [{ category: 'oversized length', bytes: encodeFrame(command, s, bytes(n)), sequence: s, mustReject: true }];
    }
    case 3: { // valid CRC, a payload size the command does not take (every command code, staged or not)
      let command = int(0x80);
      if (r() < 0.5) command = [0x01, 0x02, 0x03, 0x05, 0x06, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x1f][int(13)] | (r() < 0.3 ? STAGED : 0);
      if (r() < 0.05) command |= REPLY; // a device must never answer a reply
      let n = int(r() < 0.8 ? 300 : 1100);
      const check = command & STAGED ? (k: number) => k === 8 : strict[command];
      if (check) while (check(n)) n = int(300);
      if (command === Command.RESET) command = Command.PROFILE; // a reset is tested below, in order
      const known = lenient.has(command) || (command & STAGED && check === undefined);
      return [frame('wrong payload size', command, bytes(n), !known)];
    }
    case 4: { // commands out of order
      switch (int(3)) {
        case 0: { // a PROFILE right after a RESET, unless the RESET was swallowed by a truncated frame before it
          const reset = frame('out of order', Command.RESET, new Uint8Array(0), false);
          return [reset, { ...frame('out of order', Command.PROFILE, new Uint8Array(0), true), after: reset }];
        }
        case 1: return [frame('out of order', Command.REPLY_PART, encodeReplyPart(int(256), int(2 ** 32), int(64), int(512)), true)];
        default: return [frame('out of order', Command.INFER | STAGED, encodeStaged(FAKE.inBytes, int(2 ** 32)), true)];
      }
    }
    case 5: { // chunk misuse
      switch (int(5)) {
        case 0: { // past the end of a staging area: the model's input, the training sample + label, the receive buffer
          const [command, capacity] = ([[Command.INFER, FAKE.inBytes], [Command.TRAIN_STEP, FAKE.sampleBytes + 4], [Command.WRITE_PARAMS, FAKE.rxBytes]] as const)[int(3)];
          return [frame('chunk misuse', Command.CHUNK, encodeChunk(command, Math.max(0, capacity - int(200)), bytes(201 + int(55))), true)];
        }
        case 1: return [frame('chunk misuse', Command.CHUNK, bytes(int(4)), true)];
        case 2: return [frame('chunk misuse', Command.TRAIN_STEP | STAGED, encodeStaged(FAKE.rxBytes + 1 + int(5000), int(2 ** 32)), true)];
        case 3: return [frame('chunk misuse', Command.CHUNK | STAGED, encodeStaged(8, int(2 ** 32)), true)];
        default: { // chunks that land, then a staged request whose CRC does not match them
          const payload = bytes(FAKE.inBytes);
          const out: FuzzFrame[] = [];
          for (let at = 0; at < payload.length; at += 256) out.push(frame('chunk misuse', Command.CHUNK, encodeChunk(Command.INFER, at, payload.subarray(at, at + 256)), false));
          out.push(frame('chunk misuse', Command.INFER | STAGED, encodeStaged(FAKE.inBytes, crc32(payload) ^ 1), true));
          return out;
        }
      }
    }
    default: { // a frame cut short (the next one is swallowed into it)
      const whole = encodeFrame(Command.READ_PARAMS, seq(), encodeReadParams('params', int(FAKE.paramBytes), int(64)));
      return [{ category: 'truncated', bytes: whole.subarray(0, 1 + int(whole.length - 2)), mustReject: true }];
    }
  }
}

/** The fake model's INFER output for an input: input + 1 (saturating), then the invocation count. */
export function plusOne(input: Uint8Array): Uint8Array {
  return Uint8Array.from(new Int8Array(input.buffer, input.byteOffset, input.length), (v) => (v === 127 ? 127 : v + 1) & 0xff);
}

/**
 * Sends `count` malformed frames to the device in batches, each followed by a HELLO probe; restarts it
 * (through `open`) if it dies. Ends with a HELLO and a checked INFER.
 */
export async function runFuzz(name: string, open: () => Promise<Target>, count: number, seed: number, probeTimeoutMs: number): Promise<FuzzFigures> {
  const figures: FuzzFigures = {
    target: name, tried: 0, crashed: 0, sanitizerReports: 0, hung: 0, silentWrong: 0, cleanError: 0, ignored: 0, accepted: 0,
    byCategory: {}, afterwards: { hello: false, inferCorrect: false }, examples: [],
  };
  const r = seededUniform(seed);
  let nextSeq = 0;
  const seq = () => (nextSeq = (nextSeq + 1) % FUZZ_SEQUENCES);
  let pending = new Map<number, FuzzFrame>();
  const answered = new Set<FuzzFrame>();
  let target: Target;
  let dead = false;
  const start = async () => {
    target = await open();
    dead = false;
    const decoder = new FrameDecoder();
    target.transport.onClose(() => { dead = true; });
    target.transport.onData((chunk) => {
      for (const f of decoder.push(chunk)) {
        const sent = pending.get(f.sequence);
        if (f.sequence >= FUZZ_SEQUENCES || !sent || answered.has(sent) || (f.command & REPLY) === 0) continue;
        answered.add(sent);
        if (f.payload[0] !== Status.OK) figures.cleanError++;
        else if (sent.mustReject && (!sent.after || answered.has(sent.after))) {
          figures.silentWrong++;
          if (figures.examples.length < 5) figures.examples.push(`${sent.category}: OK to ${Array.from(sent.bytes.subarray(0, 16), (b) => b.toString(16)).join(' ')}`);
        } else figures.accepted++;
      }
    });
  };
  await start();
  const died = async () => {
    figures.crashed++;
    if (/Sanitizer|runtime error/.test(target.stderr())) figures.sanitizerReports++;
    if (figures.examples.length < 5) figures.examples.push(`died: ${target.stderr().slice(0, 300)}`);
    await target.transport.close().catch(() => undefined);
    await start();
  };
  const probe = async (batch: number, infer: boolean) => {
    const device = new Device(target.transport, { timeoutMs: probeTimeoutMs, retries: 3, firstSequence: FUZZ_SEQUENCES + (batch % 27) * 2 });
    try {
      await device.hello();
      if (!infer) return true;
      const input = Uint8Array.from({ length: FAKE.inBytes }, () => Math.floor(r() * 256));
      const out = await device.infer(input);
      return out.subarray(0, FAKE.inBytes).every((b, i) => b === plusOne(input)[i]);
    } catch {
      return false;
    }
  };
  let batch = 0;
  while (figures.tried < count) {
    const frames: FuzzFrame[] = [];
    while (frames.length < 40 && figures.tried + frames.length < count) frames.push(...fuzzCase(r, seq));
    pending = new Map(frames.filter((f) => f.sequence !== undefined).map((f) => [f.sequence!, f]));
    for (const f of frames) {
      figures.byCategory[f.category] = (figures.byCategory[f.category] ?? 0) + 1;
      if (!dead) await target!.transport.write(f.bytes).catch(() => undefined);
    }
    figures.tried += frames.length;
    const ok = !dead && (await probe(batch++, batch % 10 === 0));
    for (const f of frames) if (!answered.has(f)) figures.ignored++;
    answered.clear();
    if (dead) await died();
    else if (!ok) {
      if (dead) await died();
      else {
        figures.hung++;
        await target!.transport.close().catch(() => undefined);
        await start();
      }
    }
  }
  figures.afterwards.hello = await probe(batch, false);
  figures.afterwards.inferCorrect = await probe(batch + 1, true);
  await target!.transport.close().catch(() => undefined);
  if (/Sanitizer|runtime error/.test(target!.stderr())) figures.sanitizerReports++;
  return figures;
}

export interface LossyFigures {
  target: string;
  rate: number;
  seed: number;
  infer: { tried: number; correct: number; cleanError: number; silentWrong: number; hung: number };
  train: { tried: number; confirmed: number; cleanError: number; silentWrong: number; hung: number; paramsMatchClean: boolean | 'unread' };
  /** The longest any one call may take (rounds x attempts x timeouts over its frames); a call still running past it counts as hung. */
  boundMs: number;
  line: LossCounts;
  link: Record<string, number>;
  errors: string[];
}

export interface LossyOptions {
  rate: number;
  seed: number;
  infers: number;
  steps: number;
  timeoutMs: number;
  rounds: number;
}

/** What a run of the fake's TRAIN_STEPs gives on a clean line: each step's loss, and the params after them. */
export interface CleanTraining {
  losses: number[];
  initial: Uint8Array;
  params: Uint8Array;
}

/** The samples and labels of a training run, from a seed. */
export function trainingSamples(seed: number, steps: number): { sample: Uint8Array; label: number }[] {
  const r = seededUniform(seed ^ 0x5eed);
  return Array.from({ length: steps }, () => ({
    sample: Uint8Array.from({ length: FAKE.sampleBytes }, () => Math.floor(r() * 256)),
    label: Math.floor(r() * FAKE.classes),
  }));
}

export async function cleanTraining(target: Target, seed: number, steps: number): Promise<CleanTraining> {
  const device = new Device(target.transport);
  const initial = await device.readParams('params');
  const samples = trainingSamples(seed, steps);
  const losses: number[] = [];
  for (const { sample, label } of samples) losses.push((await device.trainStep(sample, label)).loss);
  const params = await device.readParams('params');
  await device.close();
  if (!paramsAfter(initial, samples).every((b, i) => b === params[i])) throw new Error('the fake engine no longer updates as paramsAfter() says');
  return { losses, initial, params };
}

/** Runs INFERs and TRAIN_STEPs through a lossy line; every result is checked against the clean one. */
export async function runLossy(name: string, target: Target, clean: CleanTraining, o: LossyOptions): Promise<LossyFigures> {
  const lossy = new LossyTransport(target.transport, o.rate, o.seed);
  const retries = 3;
  const device = new Device(lossy, { timeoutMs: o.timeoutMs, retries, rounds: o.rounds, backoffMs: 100 });
  const maxFrames = 2 + 2 * Math.ceil(FAKE.outBytes / 16); // the request, its chunks or parts at the smallest size
  const boundMs = o.rounds * (retries + 1) * maxFrames * (o.timeoutMs + 300) + o.rounds * 8000;
  const figures: LossyFigures = {
    target: name, rate: o.rate, seed: o.seed,
    infer: { tried: 0, correct: 0, cleanError: 0, silentWrong: 0, hung: 0 },
    train: { tried: 0, confirmed: 0, cleanError: 0, silentWrong: 0, hung: 0, paramsMatchClean: 'unread' },
    boundMs, line: lossy.counts, link: device.stats as unknown as Record<string, number>, errors: [],
  };
  type Settled<T> = { value: T } | { error: unknown } | 'hung';
  const settle = async <T>(p: Promise<T>): Promise<Settled<T>> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<'hung'>((resolve) => { timer = setTimeout(() => resolve('hung'), boundMs); });
    const result = await Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), hung]);
    clearTimeout(timer);
    return result;
  };
  const note = (error: unknown) => {
    if (!(error instanceof McutrainError)) throw error; // anything else is a bug, not a clean error
    if (figures.errors.length < 5) figures.errors.push(error.message);
  };
  /** The call's value; or 'hung' / 'error', counted in `tally`. */
  const run = async <T>(p: Promise<T>, tally: { hung: number; cleanError: number }): Promise<T | 'hung' | 'error'> => {
    const result = await settle(p);
    if (result === 'hung') {
      tally.hung++;
      return 'hung';
    }
    if ('error' in result) {
      note(result.error);
      tally.cleanError++;
      return 'error';
    }
    return result.value;
  };

  const r = seededUniform(o.seed);
  let invocations = 0; // the fake counts the INFERs it ran: a retried one must not run twice
  let maybe = 0; // INFERs that failed: each may or may not have run
  for (let k = 0; k < o.infers; k++) {
    figures.infer.tried++;
    const input = Uint8Array.from({ length: FAKE.inBytes }, () => Math.floor(r() * 256));
    const out = await run(device.infer(input), figures.infer);
    if (out === 'hung') break;
    if (out === 'error') {
      maybe++;
      continue;
    }
    const count = new DataView(out.buffer, out.byteOffset + FAKE.inBytes, 4).getInt32(0, true);
    const expected = plusOne(input);
    const same = out.subarray(0, FAKE.inBytes).every((b, i) => b === expected[i]);
    if (same && count >= invocations + 1 && count <= invocations + 1 + maybe) figures.infer.correct++;
    else figures.infer.silentWrong++;
    invocations = Math.max(invocations + 1, count);
    maybe = 0;
  }

  // Training stops at the first step that fails for good, as `mcutrain train` does; the params must then
  // equal the clean run's after the confirmed steps (or one more, for the step whose reply never came).
  const samples = trainingSamples(o.seed, clean.losses.length);
  for (let k = 0; k < Math.min(o.steps, samples.length); k++) {
    figures.train.tried++;
    const step = await run(device.trainStep(samples[k].sample, samples[k].label), figures.train);
    if (step === 'hung' || step === 'error') break;
    if (step.loss === clean.losses[k]) figures.train.confirmed++;
    else figures.train.silentWrong++;
  }
  const read = await settle(device.readParams('params', { rounds: o.rounds * 2 }));
  if (read !== 'hung' && 'value' in read) {
    const n = figures.train.confirmed;
    const after = (steps: number) => paramsAfter(clean.initial, samples.slice(0, steps));
    const match = (expected: Uint8Array) => expected.every((b, i) => b === read.value[i]);
    figures.train.paramsMatchClean = match(after(n)) || (figures.train.cleanError > 0 && match(after(n + 1)));
  } else if (read !== 'hung') note(read.error);
  await device.close().catch(() => undefined);
  return figures;
}

/**
 * The fake's params after some steps from `initial` (an update adds 1 to weights[label] and bias[label]); the
 * clean run checks this rule: applied to all its steps it gives the params the clean run read back.
 */
export function paramsAfter(initial: Uint8Array, steps: { label: number }[]): Uint8Array {
  const out = initial.slice();
  const view = new DataView(out.buffer);
  for (const { label } of steps) {
    out[label] = (out[label] + 1) & 0xff;
    view.setInt32(FAKE.weightBytes + 4 * label, view.getInt32(FAKE.weightBytes + 4 * label, true) + 1, true);
  }
  return out;
}
