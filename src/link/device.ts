/**
 * The client side of the device link (docs/protocol.md): one request at a time, each answered by a
 * reply with the same sequence number; resent with the same sequence after a timeout, a BAD_CRC or
 * a BUSY reply, which the device recognises as a retry and does not execute twice. Large request
 * payloads are staged in CHUNKs and large replies fetched again in REPLY_PARTs, so a damaged byte
 * costs one small frame, not the whole transfer.
 */
import { McutrainError } from '../errors.ts';
import { crc32 } from './crc32.ts';
import { encodeFrame, FRAME_OVERHEAD, FrameDecoder, MAX_PAYLOAD, type Frame } from './frame.ts';
import {
  CHUNK_BYTES, Command, MAX_READ_PARAMS_BYTES, REPLY, SMALL_FRAME_BYTES, STAGED, Status, WRITE_PARAMS_HEADER_BYTES, commandName,
  encodeChunk, encodeReadParams, encodeReplyPart, encodeSample, encodeSetHyper, encodeStaged, encodeWriteParams, parseHello,
  parseProfile, parseTrainInfo, parseTrainStep, stagesInModel, statusName,
  type HelloInfo, type ParamSpace, type ProfileInfo, type TrainInfo, type TrainStepResult,
} from './protocol.ts';
import type { Transport } from './transport.ts';

export type { ParamSpace, TrainInfo, TrainStepResult } from './protocol.ts';

export interface DeviceOptions {
  /** Wait for each reply, on top of the transfer time on a slow line. Default 2000 ms; keep it above
   * the device's 250 ms frame timeout (DEVICE_BYTE_TIMEOUT_MS) so a damaged frame is dropped before the resend. */
  timeoutMs?: number;
  /** Resends after the first attempt. Default 3. */
  retries?: number;
  /** Sequence number of the first request; random by default, so a new session is not taken for a retry of the last one. */
  firstSequence?: number;
  /** Pause before resending after a BUSY reply. Default 50 ms. */
  busyDelayMs?: number;
  /** Payload bytes per CHUNK (and per REPLY_PART) for large transfers: 32 to 256, default 256. */
  chunkBytes?: number;
  /** Pause before the second round of attempts (see Patience); doubles each round, up to 8 s. Default 250 ms. */
  backoffMs?: number;
  /** Rounds of attempts for every request that does not say otherwise (Patience). Default 1. */
  rounds?: number;
}

/** How hard one call tries: `rounds` rounds of (1 + retries) attempts, with a growing pause between rounds. Every
 * attempt sends the same sequence number, so the device still runs the request at most once. */
export interface Patience {
  rounds?: number;
}

export interface DeviceStats {
  requests: number;
  /** Requests sent again (same sequence) after a timeout, a damaged reply, BAD_CRC or BUSY. */
  resends: number;
  timeouts: number;
  /** Replies that arrived with a wrong CRC (resent at once, without waiting for the timeout). */
  damagedReplies: number;
  badCrcReplies: number;
  /** Intact replies that answered no pending request (late answers to an earlier attempt). */
  staleReplies: number;
  /** CHUNK frames sent to stage large requests, and REPLY_PART frames to fetch large replies again. */
  chunks: number;
  parts: number;
}

const PROTOCOL_HINT = 'the firmware and this mcutrain disagree on the link protocol; rebuild and flash the firmware with this mcutrain';

const TRAINING_HINT = 'compile the project with --train (mcutrain compile ... --train <scheme>), then build and flash it again';

const STATUS_HINTS: Record<number, string> = {
  [Status.UNKNOWN_COMMAND]: 'the firmware does not implement this command; rebuild it with this mcutrain (with training enabled, for training commands)',
  [Status.BAD_PAYLOAD]: 'check that the firmware on the device was built for this model',
  [Status.TOO_LARGE]: 'the firmware\'s receive buffer is smaller than the request; check that it was built for this model',
  [Status.MODEL_ERROR]: 'the generated model code is inconsistent; regenerate and rebuild the firmware',
  [Status.BAD_STATE]: 'run the command the message names first',
};

const LINE_HINT = 'the line corrupts or drops data: check the cable, its ground and length, and that no other program uses the port; a lower baud rate (--baud, with firmware built for it) helps on a long or noisy line';

type Outcome = { kind: 'frame'; frame: Frame } | { kind: 'timeout' } | { kind: 'damaged' };

/** What the line did during one call, for the diagnosis when it gets no answer. */
interface Watch {
  received: number;
  skipped: number;
  damaged: number;
  /** Intact frames received in this session before the call. */
  framesBefore: number;
  timeouts: number;
  badCrc: number;
}

/** The parts of a large reply fetched so far. */
interface Fetched {
  pieces: Uint8Array[];
  got: number;
  total: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Pending {
  sequence: number;
  resolve: (outcome: Outcome) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class Device {
  readonly stats: DeviceStats = { requests: 0, resends: 0, timeouts: 0, damagedReplies: 0, badCrcReplies: 0, staleReplies: 0, chunks: 0, parts: 0 };
  private readonly decoder = new FrameDecoder();
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly busyDelayMs: number;
  private readonly chunkBytes: number;
  /** CHUNK / REPLY_PART size in use: halved after a lost or damaged one, grown back after a run of intact ones. */
  private chunkNow: number;
  private chunkStreak = 0;
  private readonly backoffMs: number;
  private readonly rounds: number;
  private nextSequence: number;
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closedError: McutrainError | undefined;
  private bytesReceived = 0;
  private info: HelloInfo | undefined;
  private training: TrainInfo | undefined;

  constructor(private readonly transport: Transport, options: DeviceOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.retries = options.retries ?? 3;
    this.busyDelayMs = options.busyDelayMs ?? 50;
    this.chunkBytes = Math.max(32, Math.min(CHUNK_BYTES, Math.floor(options.chunkBytes ?? CHUNK_BYTES)));
    this.backoffMs = options.backoffMs ?? 250;
    this.rounds = Math.max(1, Math.floor(options.rounds ?? 1));
    this.chunkNow = this.chunkBytes;
    this.nextSequence = (options.firstSequence ?? Math.floor(Math.random() * 256)) & 0xff;
    transport.onData((chunk) => {
      this.bytesReceived += chunk.length;
      const damagedBefore = this.decoder.stats.badCrc;
      for (const frame of this.decoder.push(chunk)) this.deliver(frame);
      if (this.decoder.stats.badCrc > damagedBefore) this.damaged();
    });
    transport.onClose((error) => this.fail(error));
  }

  get description(): string {
    return this.transport.description;
  }

  /** Asks the device what it is and which model it runs; refuses another protocol version. */
  async hello(): Promise<HelloInfo> {
    this.info = parseHello(await this.request(Command.HELLO));
    return this.info;
  }

  /**
   * Runs one inference on the bytes of all inputs concatenated, exactly as the device stores them
   * (int8 values, or little-endian wider types), and returns the bytes of all outputs concatenated:
   * the INFER payloads as they travel.
   */
  async infer(inputs: Uint8Array): Promise<Uint8Array> {
    const info = this.info ?? (await this.hello());
    const want = info.inputs.reduce((sum, t) => sum + t.bytes, 0);
    if (inputs.length !== want) {
      const list = info.inputs.map((t) => `'${t.name}' ${t.dtype}[${t.shape.join(', ')}] (${t.bytes} bytes)`).join(', ');
      throw new McutrainError(`the model on ${this.description} takes ${want} bytes of input (${list}); ${inputs.length} were given`);
    }
    const expected = info.outputs.reduce((sum, t) => sum + t.bytes, 0);
    const reply = await this.request(Command.INFER, inputs, expected);
    if (reply.length !== expected) {
      throw new McutrainError(
        `${this.description} answered INFER with ${reply.length} bytes of outputs; the model's outputs take ${expected}`, PROTOCOL_HINT);
    }
    return reply.slice();
  }

  /** As infer(), one buffer per input tensor in and one per output tensor out. */
  async inferTensors(inputs: ArrayBufferView[]): Promise<Uint8Array[]> {
    const info = this.info ?? (await this.hello());
    if (inputs.length !== info.inputs.length) {
      throw new McutrainError(`the model on ${this.description} takes ${info.inputs.length} input(s); ${inputs.length} were given`);
    }
    const parts = inputs.map((view, i) => {
      const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      const t = info.inputs[i];
      if (bytes.length !== t.bytes) {
        throw new McutrainError(
          `input ${i} '${t.name}' takes ${t.bytes} bytes (${t.dtype} [${t.shape.join(', ')}]); ${bytes.length} were given`);
      }
      return bytes;
    });
    const payload = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
    let at = 0;
    for (const part of parts) {
      payload.set(part, at);
      at += part.length;
    }
    const reply = await this.infer(payload);
    at = 0;
    return info.outputs.map((t) => reply.slice(at, (at += t.bytes)));
  }

  /** Ticks per operator of the last inference, with the stack and arena figures. */
  async profile(): Promise<ProfileInfo> {
    return parseProfile(await this.request(Command.PROFILE));
  }

  /** Restarts the device (the reply is sent before it restarts). */
  async reset(): Promise<void> {
    this.training = undefined; // a board comes back with its compiled-in hyperparameters
    await this.request(Command.RESET);
  }

  /** The training engine: classes, sample size, hyperparameters and trained tensors. Refuses firmware without training. */
  async trainInfo(): Promise<TrainInfo> {
    const info = this.info ?? (await this.hello());
    if (!info.training) {
      throw new McutrainError(`${this.description} runs firmware compiled without training (HELLO's training bit is clear)`, TRAINING_HINT);
    }
    this.training = parseTrainInfo(await this.request(Command.TRAIN_INFO));
    return this.training;
  }

  /** One SGD step on a sample (its bytes as the device stores them) and its label: loss and prediction before the update. */
  trainStep(input: Uint8Array, label: number, patience: Patience = {}): Promise<TrainStepResult> {
    return this.sample(Command.TRAIN_STEP, input, label, patience);
  }

  /** The loss and prediction for a sample, without updating anything. */
  evaluate(input: Uint8Array, label: number, patience: Patience = {}): Promise<TrainStepResult> {
    return this.sample(Command.EVALUATE, input, label, patience);
  }

  /** Sets the learning rate and the momentum coefficient (stored as float32 on the device). */
  async setHyper(lr: number, momentum = 0): Promise<void> {
    if (!Number.isFinite(Math.fround(lr)) || lr < 0) throw new McutrainError(`the learning rate must be a finite number >= 0 (as float32), not ${lr}`);
    if (!Number.isFinite(momentum) || momentum < 0 || momentum >= 1) throw new McutrainError(`momentum must lie in [0, 1), not ${momentum}`);
    const t = this.training ?? (await this.trainInfo());
    if (momentum !== 0 && t.params.some((p) => p.momentumFloats === 0)) {
      throw new McutrainError(`the firmware on ${this.description} has no momentum buffers, so momentum must be 0 (not ${momentum})`,
        'compile the project with momentum in the training scheme to train with momentum');
    }
    await this.request(Command.SET_HYPER, encodeSetHyper(lr, momentum));
    this.training = { ...t, lr: Math.fround(lr), momentum: Math.fround(momentum) };
  }

  /** The whole space: all trained tensors' bytes, or their momentum floats as little-endian bytes, in table order. */
  async readParams(space: ParamSpace, patience: Patience = {}): Promise<Uint8Array> {
    const total = this.spaceBytes(this.training ?? (await this.trainInfo()), space);
    const out = new Uint8Array(total);
    for (let at = 0; at < total; at += MAX_READ_PARAMS_BYTES) {
      const n = Math.min(MAX_READ_PARAMS_BYTES, total - at);
      const reply = await this.request(Command.READ_PARAMS, encodeReadParams(space, at, n), n, patience);
      if (reply.length !== n) {
        throw new McutrainError(`${this.description} answered READ_PARAMS of ${n} bytes at ${at} with ${reply.length} bytes`, PROTOCOL_HINT);
      }
      out.set(reply, at);
    }
    return out;
  }

  /** Writes bytes into a space at `offset`, in requests that fit the device's receive buffer. */
  async writeParams(space: ParamSpace, bytes: Uint8Array, offset = 0, patience: Patience = {}): Promise<void> {
    const total = this.spaceBytes(this.training ?? (await this.trainInfo()), space);
    if (!Number.isInteger(offset) || offset < 0 || offset + bytes.length > total) {
      throw new McutrainError(`cannot write ${bytes.length} bytes at offset ${offset}: the ${space} on ${this.description} take ${total} bytes`,
        'the parameters belong to a different model or training scheme');
    }
    const chunk = this.info!.maxRequestBytes - WRITE_PARAMS_HEADER_BYTES;
    if (chunk <= 0 && bytes.length > 0) {
      throw new McutrainError(`${this.description} accepts requests of at most ${this.info!.maxRequestBytes} bytes, too few for WRITE_PARAMS`,
        STATUS_HINTS[Status.TOO_LARGE]);
    }
    for (let at = 0; at < bytes.length; at += chunk) {
      const part = bytes.subarray(at, Math.min(bytes.length, at + chunk));
      await this.request(Command.WRITE_PARAMS, encodeWriteParams(space, offset + at, part), 1, patience);
    }
  }

  private spaceBytes(t: TrainInfo, space: ParamSpace): number {
    if (space !== 'params' && space !== 'momentum') throw new McutrainError(`unknown parameter space '${String(space)}' (params or momentum)`);
    return space === 'params' ? t.paramBytes : t.momentumBytes;
  }

  private async sample(command: number, input: Uint8Array, label: number, patience: Patience): Promise<TrainStepResult> {
    const t = this.training ?? (await this.trainInfo());
    const name = commandName(command);
    if (input.length !== t.inputBytes) {
      throw new McutrainError(`the training engine on ${this.description} takes samples of ${t.inputBytes} bytes; ${input.length} were given to ${name}`);
    }
    if (!Number.isInteger(label) || label < 0 || label >= t.classes) {
      throw new McutrainError(`label ${label} is not a class of the model (0 to ${t.classes - 1})`, 'check the labels of the data set');
    }
    return parseTrainStep(await this.request(command, encodeSample(input, label), 12, patience), name);
  }

  /**
   * Sends one request and returns the reply payload after its OK status byte; any other status
   * becomes a McutrainError. Requests from concurrent callers are queued, never interleaved.
   * `expectReplyBytes`, when known, sizes the timeout and lets a large reply be fetched in parts.
   */
  request(command: number, payload: Uint8Array = new Uint8Array(0), expectReplyBytes?: number, patience: Patience = {}): Promise<Uint8Array> {
    const run = this.queue.then(() => this.exchange(command, payload, expectReplyBytes, Math.max(1, patience.rounds ?? this.rounds)));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Closes the transport; pending and later requests fail. */
  async close(): Promise<void> {
    this.fail(new McutrainError(`the link to ${this.description} was closed`));
    await this.transport.close();
  }

  private fail(error: McutrainError): void {
    this.closedError ??= error;
    const pending = this.pending;
    this.pending = undefined;
    if (pending) {
      clearTimeout(pending.timer);
      pending.reject(this.closedError);
    }
  }

  private deliver(frame: Frame): void {
    if ((frame.command & REPLY) === 0) return; // a request: our own output echoed back
    const pending = this.pending;
    if (pending && frame.sequence === pending.sequence) {
      this.pending = undefined;
      clearTimeout(pending.timer);
      pending.resolve({ kind: 'frame', frame });
    } else {
      this.stats.staleReplies++;
    }
  }

  /** A frame arrived damaged, most likely the answer: resend now rather than wait for the timeout. */
  private damaged(): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    clearTimeout(pending.timer);
    pending.resolve({ kind: 'damaged' });
  }

  private transferMs(bytes: number): number {
    const rate = this.transport.bytesPerSecond;
    return rate ? Math.ceil((bytes * 1000 * 1.25) / rate) : 0;
  }

  private async attempt(bytes: Uint8Array, sequence: number, timeoutMs: number): Promise<Outcome> {
    if (this.closedError) throw this.closedError;
    const outcome = new Promise<Outcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        // The rest of a partial frame is not coming: rescan behind its sync, our answer may be there.
        for (const frame of this.decoder.resync()) this.deliver(frame);
        if (this.pending?.timer === timer) {
          this.pending = undefined;
          resolve({ kind: 'timeout' });
        }
      }, timeoutMs);
      this.pending = { sequence, resolve, reject, timer };
    });
    outcome.catch(() => undefined); // observed below or by the caller; never an unhandled rejection
    try {
      await this.transport.write(bytes);
    } catch (error) {
      const pending = this.pending;
      this.pending = undefined;
      if (pending) clearTimeout(pending.timer);
      throw this.closedError ?? (error instanceof McutrainError ? error
        : new McutrainError(`cannot write to ${this.description}: ${(error as Error).message}`));
    }
    return outcome;
  }

  private takeSequence(): number {
    const sequence = this.nextSequence;
    this.nextSequence = (sequence + 1) & 0xff;
    return sequence;
  }

  private startWatch(): Watch {
    this.decoder.clearSample();
    const d = this.decoder.stats;
    return {
      received: this.bytesReceived, skipped: d.skippedBytes, damaged: d.badCrc + d.badLength, framesBefore: d.frames, timeouts: 0, badCrc: 0,
    };
  }

  /**
   * One request, resent with the same sequence number until an intact reply with a final status
   * arrives: after a timeout (from the second on, a large reply is fetched in REPLY_PARTs instead),
   * after BAD_CRC, BUSY, or NOT_STAGED (the staged payload is sent again first).
   */
  private async exchange(command: number, payload: Uint8Array, expectReplyBytes: number | undefined, rounds: number, linkLevel = false,
    attempts = this.retries + 1): Promise<Uint8Array> {
    if (this.closedError) throw this.closedError;
    if (linkLevel) this.stats[command === Command.CHUNK ? 'chunks' : 'parts']++;
    else this.stats.requests++;
    const name = commandName(command);
    // Stage a payload that the device can hold (a sample in the model's inputs) but that is too large to risk as one frame.
    const staged = !linkLevel && payload.length > SMALL_FRAME_BYTES && this.info !== undefined &&
      (stagesInModel(command) || payload.length <= this.info.maxRequestBytes);
    const wire = staged ? command | STAGED : command;
    const sequence = this.takeSequence();
    const bytes = encodeFrame(wire, sequence, staged ? encodeStaged(payload.length, crc32(payload)) : payload);
    const requestCrc = new DataView(bytes.buffer).getUint32(bytes.length - 4, true);
    const byParts = !linkLevel && expectReplyBytes !== undefined && expectReplyBytes > this.chunkBytes;
    const timeoutMs = this.timeoutMs + this.transferMs(bytes.length + FRAME_OVERHEAD + 1 + (expectReplyBytes ?? 1024));
    const watch = this.startWatch();
    if (staged) await this.stage(command, payload, rounds);
    let timeouts = 0;
    const fetched: Fetched = { pieces: [], got: 0, total: 0 };
    for (let round = 0; round < rounds; round++) {
      if (round > 0) await sleep(Math.min(8000, this.backoffMs * 2 ** (round - 1)));
      for (let i = 0; i < attempts; i++) {
        if (i > 0 || round > 0) this.stats.resends++;
        let outcome: Outcome;
        if (byParts && timeouts >= 1 && this.bytesReceived > watch.received) {
          // The whole reply failed to arrive intact: ask for it again piece by piece.
          const parts = await this.replyByParts(wire, sequence, requestCrc, fetched);
          if (parts === 'not-run') {
            Object.assign(fetched, { pieces: [], got: 0, total: 0 }); // it runs afresh: its reply may differ
            outcome = await this.attempt(bytes, sequence, timeoutMs);
          } else {
            outcome = parts ? { kind: 'frame', frame: parts } : { kind: 'timeout' };
          }
        } else {
          outcome = await this.attempt(bytes, sequence, timeoutMs);
        }
        if (linkLevel && (outcome.kind !== 'frame' || outcome.frame.payload[0] === Status.BAD_CRC)) this.adaptChunks(false);
        if (outcome.kind !== 'frame') {
          timeouts++;
          if (outcome.kind === 'damaged') {
            this.stats.damagedReplies++;
          } else {
            watch.timeouts++;
            this.stats.timeouts++;
          }
          continue;
        }
        const { frame } = outcome;
        const status = frame.payload.length > 0 ? frame.payload[0] : undefined;
        if (status === Status.BAD_CRC) {
          // The request arrived damaged (its command byte too, perhaps): send it again at once.
          watch.badCrc++;
          this.stats.badCrcReplies++;
          continue;
        }
        if (frame.command !== (wire | REPLY)) {
          throw new McutrainError(
            `${this.description} answered ${commandName(frame.command)} to ${name} (sequence ${sequence})`, PROTOCOL_HINT);
        }
        if (status === undefined) {
          throw new McutrainError(`${this.description} sent an empty ${name} reply, without a status byte`, PROTOCOL_HINT);
        }
        if (status === Status.BUSY) {
          await sleep(this.busyDelayMs);
          continue;
        }
        if (status === Status.NOT_STAGED && staged) {
          await this.stage(command, payload, rounds);
          continue;
        }
        if (linkLevel) this.adaptChunks(true);
        if (status !== Status.OK) {
          const message = new TextDecoder().decode(frame.payload.subarray(1));
          throw new McutrainError(
            `${this.description} rejected ${name}: ${statusName(status)}${message ? `: ${message}` : ''}`, STATUS_HINTS[status]);
        }
        return frame.payload.subarray(1);
      }
    }
    throw this.noAnswer(name, sequence, rounds * attempts, timeoutMs, watch);
  }

  /** Sends a large payload of `command` to its staging area on the device in CHUNKs, each resent on its own until it lands. */
  private async stage(command: number, payload: Uint8Array, rounds: number): Promise<void> {
    let failures = 0;
    for (let at = 0; at < payload.length;) {
      // One attempt per CHUNK: after a failure the rest is cut again, in the smaller size.
      const part = payload.subarray(at, Math.min(payload.length, at + this.chunkNow));
      try {
        await this.exchange(Command.CHUNK, encodeChunk(command, at, part), 1, 1, true, 1);
      } catch (error) {
        if (this.closedError || !(error instanceof McutrainError) || /rejected CHUNK/.test(error.message)) throw error;
        failures++;
        this.stats.resends++;
        if (failures >= rounds * (this.retries + 1)) {
          throw new McutrainError(`could not stage a ${payload.length}-byte request: the chunk at byte ${at} failed ${failures} times; the last time: ${error.message}`,
            error.hint);
        }
        if (failures % (this.retries + 1) === 0) await sleep(Math.min(8000, this.backoffMs * 2 ** (failures / (this.retries + 1) - 1)));
        continue;
      }
      failures = 0;
      at += part.length;
    }
  }

  /** Smaller chunks on a line that damages them (a frame's odds fall with its length), larger again once it behaves. */
  private adaptChunks(intact: boolean): void {
    if (!intact) {
      this.chunkNow = Math.max(32, this.chunkNow >> 1);
      this.chunkStreak = 0;
    } else if (++this.chunkStreak >= 16 && this.chunkNow < this.chunkBytes) {
      this.chunkNow = Math.min(this.chunkBytes, this.chunkNow * 2);
      this.chunkStreak = 0;
    }
  }

  /**
   * The reply to the request (wire, sequence, requestCrc) fetched again in parts, as one frame; 'not-run' when
   * the device did not run that request (it never arrived intact); undefined when the parts did not get through
   * (the parts that did are kept in `fetched` for the next try).
   */
  private async replyByParts(wire: number, sequence: number, requestCrc: number, fetched: Fetched): Promise<Frame | 'not-run' | undefined> {
    const { pieces } = fetched;
    let failures = 0;
    while (fetched.total === 0 || fetched.got < fetched.total) { // a reply has at least its status byte
      const got = fetched.got;
      let reply: Uint8Array;
      try {
        // One attempt per part: after a failure the next one asks for the smaller size.
        reply = await this.exchange(Command.REPLY_PART, encodeReplyPart(sequence, requestCrc, got, this.chunkNow), 9 + this.chunkNow, 1, true, 1);
      } catch (error) {
        if (error instanceof McutrainError && /REPLY_PART: BAD_STATE/.test(error.message)) return 'not-run';
        if (this.closedError) throw this.closedError;
        if (++failures > this.retries) return undefined;
        this.stats.resends++;
        continue;
      }
      failures = 0;
      const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
      // total, then the offset echoed (a late answer to an earlier part must not land in the wrong place), then the bytes
      if (reply.length < 8 || view.getUint32(4, true) !== got || (got > 0 && view.getUint32(0, true) !== fetched.total) ||
        (reply.length === 8 && got < view.getUint32(0, true))) {
        throw new McutrainError(`${this.description} sent a malformed REPLY_PART reply`, PROTOCOL_HINT);
      }
      fetched.total = view.getUint32(0, true);
      if (fetched.total > MAX_PAYLOAD) {
        throw new McutrainError(`${this.description} announced a reply of ${fetched.total} bytes in REPLY_PART`, PROTOCOL_HINT);
      }
      pieces.push(reply.slice(8));
      fetched.got += reply.length - 8;
    }
    const payload = new Uint8Array(fetched.total);
    let at = 0;
    for (const piece of pieces) {
      payload.set(piece, at);
      at += piece.length;
    }
    return { command: wire | REPLY, sequence, payload };
  }

  private noAnswer(name: string, sequence: number, attempts: number, timeoutMs: number, watch: Watch): McutrainError {
    const d = this.decoder.stats;
    const received = this.bytesReceived - watch.received;
    const skipped = d.skippedBytes - watch.skipped;
    const damaged = d.badCrc + d.badLength - watch.damaged;
    const intact = d.frames - watch.framesBefore;
    const head = `${this.description} gave no valid answer to ${name} (sequence ${sequence}) in ${attempts} attempt(s) of ${timeoutMs} ms`;
    if (received === 0) {
      if (watch.framesBefore > 0) {
        return new McutrainError(
          `${head}: it sent nothing back this time, though it answered ${watch.framesBefore} frame(s) earlier in this session`,
          'the requests may be lost on the way (a noisy line drops or damages bytes) or the device stopped (reset, crash, unplugged): ' +
          'check the cable and that the device still runs, then try again');
      }
      return new McutrainError(`${head}: it sent nothing at all`,
        'check that the device is connected and powered, runs firmware built by mcutrain, and that the port (and baud rate) is right');
    }
    const parts: string[] = [];
    if (watch.timeouts > 0) parts.push(`${watch.timeouts} attempt(s) timed out`);
    if (watch.badCrc > 0) parts.push(`${watch.badCrc} reached it damaged (BAD_CRC)`);
    if (damaged > 0) parts.push(`${damaged} frame(s) from it arrived damaged`);
    if (intact > 0 && damaged + watch.badCrc === 0) parts.push(`${intact} intact frame(s) answered earlier attempts too late`);
    const noise = damaged > 0 || watch.badCrc > 0 || intact > 0 || watch.framesBefore > 0;
    if (skipped > 0) {
      parts.push(noise
        ? `${skipped} byte(s) of noise or damaged frames were skipped`
        : `it sent ${skipped} byte(s) that are not mcutrain frames, starting ${showBytes(this.decoder.skippedSample)}`);
    }
    const hint = noise ? LINE_HINT
      : 'is firmware built by mcutrain running on it, is the baud rate right, and is no other program using the port?';
    return new McutrainError(`${head}: ${parts.join('; ')}`, hint);
  }
}

/** Bytes for a message: as text when they look like text (a boot banner), else as hex. */
function showBytes(bytes: Uint8Array): string {
  const printable = bytes.every((b) => b === 0x0a || b === 0x0d || b === 0x09 || (b >= 0x20 && b < 0x7f));
  if (printable && bytes.length > 0) return JSON.stringify(new TextDecoder().decode(bytes));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
