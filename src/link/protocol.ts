/**
 * Commands, statuses and payload layouts of the device link, version 3 (docs/protocol.md).
 * Mirrors firmware/include/mcutrain/link.h; test/link/host_link.test.ts runs both against each other.
 */
import { McutrainError } from '../errors.ts';

export const PROTOCOL_VERSION = 3;

export const Command = {
  HELLO: 0x01,
  INFER: 0x02,
  PROFILE: 0x03,
  RESET: 0x04,
  /** Link level: stages part of a large request payload on the device (u8 command, u32 offset, bytes); a sample
   * (INFER, TRAIN_STEP, EVALUATE) straight into the model's input tensors. */
  CHUNK: 0x05,
  /** Link level: a range of the last request's reply, resent (u8 seq, u32 frame CRC, u32 offset, u32 length). */
  REPLY_PART: 0x06,
  /** 0x10..0x1F: training commands; a firmware built without training answers them UNKNOWN_COMMAND. */
  TRAIN_FIRST: 0x10,
  TRAIN_STEP: 0x10,
  EVALUATE: 0x11,
  SET_HYPER: 0x12,
  TRAIN_INFO: 0x13,
  READ_PARAMS: 0x14,
  WRITE_PARAMS: 0x15,
  TRAIN_LAST: 0x1f,
} as const;

/** Or-ed into the command of every reply. */
export const REPLY = 0x80;
/** Or-ed into a request whose payload was staged by CHUNKs; its own payload is then u32 length, u32 CRC-32. */
export const STAGED = 0x40;
/** Most payload bytes one CHUNK carries after its command and offset (MT_LINK_CHUNK_BYTES). */
export const CHUNK_BYTES = 256;
/** CHUNK: the command byte and the u32 offset before the bytes. */
export const CHUNK_HEADER_BYTES = 5;
/** Frames with at most this much payload never touch a staged payload on the device; larger requests are staged. */
export const SMALL_FRAME_BYTES = CHUNK_HEADER_BYTES + CHUNK_BYTES;

/** Requests whose payload (a sample, with its label for training) the device stages in the model's input tensors,
 * whatever HELLO's `max request`. */
export function stagesInModel(command: number): boolean {
  return command === Command.INFER || command === Command.TRAIN_STEP || command === Command.EVALUATE;
}

export const Status = {
  OK: 0,
  BAD_CRC: 1,
  UNKNOWN_COMMAND: 2,
  BAD_PAYLOAD: 3,
  TOO_LARGE: 4,
  BUSY: 5,
  MODEL_ERROR: 6,
  BAD_STATE: 7,
  /** A STAGED request whose staged bytes are missing or damaged: stage them again, then resend it. */
  NOT_STAGED: 8,
} as const;

export const FEATURE_TRAINING = 0x1;

/** The most bytes one READ_PARAMS reply carries (MT_LINK_MAX_READ_BYTES); longer reads are chunked. */
export const MAX_READ_PARAMS_BYTES = 4096;
/** WRITE_PARAMS: the space byte and the offset come before the data. */
export const WRITE_PARAMS_HEADER_BYTES = 5;

/** READ_PARAMS / WRITE_PARAMS address spaces: the trained tensors' bytes, or their momentum floats. */
export type ParamSpace = 'params' | 'momentum';
export const PARAM_SPACE: Record<ParamSpace, number> = { params: 0, momentum: 1 };

/** Longest silence inside a frame before the device drops it; a client's timeout must be longer. */
export const DEVICE_BYTE_TIMEOUT_MS = 250;

export function commandName(command: number): string {
  const base = command & ~REPLY & ~STAGED;
  const name = Object.entries(Command).find(([key, value]) => value === base && key !== 'TRAIN_FIRST' && key !== 'TRAIN_LAST')?.[0];
  const hex = `0x${base.toString(16).padStart(2, '0')}`;
  if (name) return name;
  if (base >= Command.TRAIN_FIRST && base <= Command.TRAIN_LAST) return `training command ${hex}`;
  return `command ${hex}`;
}

export function statusName(status: number): string {
  return Object.entries(Status).find(([, value]) => value === status)?.[0] ?? `status ${status}`;
}

export type LinkDType = 'int8' | 'uint8' | 'int16' | 'int32' | 'float32';
const DTYPES: LinkDType[] = ['int8', 'uint8', 'int16', 'int32', 'float32'];

export interface TensorInfo {
  name: string;
  dtype: LinkDType;
  shape: number[];
  bytes: number;
  /** 0 when not quantized. */
  scale: number;
  zeroPoint: number;
}

export interface HelloInfo {
  protocolVersion: number;
  /** First 8 bytes of the SHA-256 of the .tflite, as 16 hex digits. */
  modelHash: string;
  arenaBytes: number;
  flashConstBytes: number;
  /** Largest request payload the device accepts, for commands other than INFER, TRAIN_STEP and EVALUATE (whose
   * payloads are staged in the model's input tensors and take exactly their size). */
  maxRequestBytes: number;
  features: number;
  training: boolean;
  opCount: number;
  buildId: string;
  tickUnit: string;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

export interface ProfileInfo {
  totalTicks: number;
  /** Ticks per operator, in graph order. */
  opTicks: number[];
  tickUnit: string;
  /** undefined when the platform cannot tell. */
  stackHighWaterBytes: number | undefined;
  arenaBytes: number;
}

export interface TrainStepResult {
  loss: number;
  /** Argmax of the logits, before the update. */
  predicted: number;
  /** Device ticks the step took (tick unit as in HELLO). */
  ticks: number;
}

export interface TrainParamDesc {
  name: string;
  dtype: LinkDType;
  bytes: number;
  /** Floats of optimizer state; 0 without momentum. */
  momentumFloats: number;
}

/** What the firmware's training engine reports (TRAIN_INFO). */
export interface TrainInfo {
  classes: number;
  /** Bytes of one sample (TRAIN_STEP / EVALUATE payloads add a 4-byte label). */
  inputBytes: number;
  /** The current hyperparameters (as float32 on the device). */
  lr: number;
  momentum: number;
  params: TrainParamDesc[];
  /** Sizes of the READ_PARAMS / WRITE_PARAMS spaces. */
  paramBytes: number;
  momentumBytes: number;
  /** TRAIN_STEP updates applied since the device booted (a board's reset): 0 = parameters as compiled in. */
  steps: number;
}

/** Reads a reply payload; running past its end means the device sent something malformed. */
class Reader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, private readonly what: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private take(n: number, field: string): number {
    if (this.pos + n > this.bytes.length) {
      throw new McutrainError(
        `malformed ${this.what} reply: it ends after ${this.bytes.length} bytes, in the middle of '${field}'`,
        'the firmware and this mcutrain disagree on the link protocol; rebuild and flash the firmware with this mcutrain',
      );
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(field: string): number { return this.view.getUint8(this.take(1, field)); }
  u16(field: string): number { return this.view.getUint16(this.take(2, field), true); }
  u32(field: string): number { return this.view.getUint32(this.take(4, field), true); }
  i32(field: string): number { return this.view.getInt32(this.take(4, field), true); }
  f32(field: string): number { return this.view.getFloat32(this.take(4, field), true); }
  raw(n: number, field: string): Uint8Array {
    const at = this.take(n, field);
    return this.bytes.subarray(at, at + n);
  }
  str(field: string): string {
    const n = this.u8(field);
    return new TextDecoder().decode(this.raw(n, field));
  }
  end(): void {
    if (this.pos !== this.bytes.length) {
      throw new McutrainError(
        `malformed ${this.what} reply: ${this.bytes.length - this.pos} bytes left over after the last field`,
        'the firmware and this mcutrain disagree on the link protocol; rebuild and flash the firmware with this mcutrain',
      );
    }
  }
}

function readTensor(r: Reader, which: string): TensorInfo {
  const code = r.u8(`${which} dtype`);
  const dtype = DTYPES[code];
  if (dtype === undefined) {
    throw new McutrainError(`HELLO reply: ${which} has unknown dtype code ${code}`, 'rebuild and flash the firmware with this mcutrain');
  }
  const rank = r.u8(`${which} rank`);
  if (rank > 6) throw new McutrainError(`HELLO reply: ${which} has rank ${rank}, at most 6 is possible`, 'rebuild and flash the firmware with this mcutrain');
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) shape.push(r.i32(`${which} dims`));
  const bytes = r.u32(`${which} bytes`);
  const scale = r.f32(`${which} scale`);
  const zeroPoint = r.i32(`${which} zero point`);
  const name = r.str(`${which} name`);
  return { name, dtype, shape, bytes, scale, zeroPoint };
}

/** Parses a HELLO reply (after the status byte); refuses a protocol version other than ours. */
export function parseHello(payload: Uint8Array): HelloInfo {
  const r = new Reader(payload, 'HELLO');
  const protocolVersion = r.u16('version');
  if (protocolVersion !== PROTOCOL_VERSION) {
    throw new McutrainError(
      `the device speaks link protocol version ${protocolVersion}; this mcutrain speaks version ${PROTOCOL_VERSION}`,
      'rebuild and flash the firmware with this mcutrain',
    );
  }
  const modelHash = Array.from(r.raw(8, 'model hash'), (b) => b.toString(16).padStart(2, '0')).join('');
  const arenaBytes = r.u32('arena bytes');
  const flashConstBytes = r.u32('flash const bytes');
  const maxRequestBytes = r.u32('max request');
  const features = r.u32('features');
  const opCount = r.u16('operators');
  const nInputs = r.u16('inputs');
  const nOutputs = r.u16('outputs');
  const buildId = r.str('build id');
  const tickUnit = r.str('tick unit');
  const inputs: TensorInfo[] = [];
  for (let i = 0; i < nInputs; i++) inputs.push(readTensor(r, `input ${i}`));
  const outputs: TensorInfo[] = [];
  for (let i = 0; i < nOutputs; i++) outputs.push(readTensor(r, `output ${i}`));
  r.end();
  return {
    protocolVersion, modelHash, arenaBytes, flashConstBytes, maxRequestBytes, features,
    training: (features & FEATURE_TRAINING) !== 0, opCount, buildId, tickUnit, inputs, outputs,
  };
}

/** Parses a PROFILE reply (after the status byte). */
export function parseProfile(payload: Uint8Array): ProfileInfo {
  const r = new Reader(payload, 'PROFILE');
  const totalTicks = r.u32('total ticks');
  const stack = r.u32('stack high water');
  const arenaBytes = r.u32('arena bytes');
  const n = r.u16('operators');
  const opTicks: number[] = [];
  for (let i = 0; i < n; i++) opTicks.push(r.u32('op ticks'));
  const tickUnit = r.str('tick unit');
  r.end();
  return { totalTicks, opTicks, tickUnit, stackHighWaterBytes: stack === 0 ? undefined : stack, arenaBytes };
}

/** Parses a TRAIN_STEP or EVALUATE reply (after the status byte). */
export function parseTrainStep(payload: Uint8Array, what = 'TRAIN_STEP'): TrainStepResult {
  const r = new Reader(payload, what);
  const loss = r.f32('loss');
  const predicted = r.i32('predicted');
  const ticks = r.u32('ticks');
  r.end();
  return { loss, predicted, ticks };
}

/** Parses a TRAIN_INFO reply (after the status byte). */
export function parseTrainInfo(payload: Uint8Array): TrainInfo {
  const r = new Reader(payload, 'TRAIN_INFO');
  const classes = r.u16('classes');
  const inputBytes = r.u32('input bytes');
  const lr = r.f32('lr');
  const momentum = r.f32('momentum');
  const n = r.u16('params');
  const params: TrainParamDesc[] = [];
  for (let i = 0; i < n; i++) {
    const code = r.u8(`param ${i} dtype`);
    const dtype = DTYPES[code];
    if (dtype === undefined) {
      throw new McutrainError(`TRAIN_INFO reply: param ${i} has unknown dtype code ${code}`, 'rebuild and flash the firmware with this mcutrain');
    }
    const bytes = r.u32(`param ${i} bytes`);
    const momentumFloats = r.u32(`param ${i} momentum floats`);
    const name = r.str(`param ${i} name`);
    params.push({ name, dtype, bytes, momentumFloats });
  }
  const steps = r.u32('steps');
  r.end();
  return {
    classes, inputBytes, lr, momentum, params, steps,
    paramBytes: params.reduce((s, p) => s + p.bytes, 0),
    momentumBytes: params.reduce((s, p) => s + 4 * p.momentumFloats, 0),
  };
}

/** TRAIN_STEP / EVALUATE request: the sample's bytes, then the label as int32. */
export function encodeSample(input: Uint8Array, label: number): Uint8Array {
  const out = new Uint8Array(input.length + 4);
  out.set(input, 0);
  new DataView(out.buffer).setInt32(input.length, label, true);
  return out;
}

/** SET_HYPER request: f32 lr, f32 momentum. */
export function encodeSetHyper(lr: number, momentum: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setFloat32(0, lr, true);
  view.setFloat32(4, momentum, true);
  return out;
}

/** READ_PARAMS request: u8 space, u32 offset, u32 length. */
export function encodeReadParams(space: ParamSpace, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(9);
  const view = new DataView(out.buffer);
  view.setUint8(0, PARAM_SPACE[space]);
  view.setUint32(1, offset, true);
  view.setUint32(5, length, true);
  return out;
}

/** WRITE_PARAMS request: u8 space, u32 offset, then the bytes. */
export function encodeWriteParams(space: ParamSpace, offset: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(WRITE_PARAMS_HEADER_BYTES + bytes.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, PARAM_SPACE[space]);
  view.setUint32(1, offset, true);
  out.set(bytes, WRITE_PARAMS_HEADER_BYTES);
  return out;
}

/** The payload of a STAGED request: the staged bytes' length and CRC-32. */
export function encodeStaged(length: number, crc: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, length, true);
  view.setUint32(4, crc, true);
  return out;
}

/** CHUNK request: the command whose payload it stages, the u32 offset into that payload, then the bytes. */
export function encodeChunk(command: number, offset: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(CHUNK_HEADER_BYTES + bytes.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, command);
  view.setUint32(1, offset, true);
  out.set(bytes, CHUNK_HEADER_BYTES);
  return out;
}

/** REPLY_PART request: which request (its sequence and frame CRC) and which range of its reply payload. */
export function encodeReplyPart(sequence: number, requestCrc: number, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(13);
  const view = new DataView(out.buffer);
  view.setUint8(0, sequence);
  view.setUint32(1, requestCrc, true);
  view.setUint32(5, offset, true);
  view.setUint32(9, length, true);
  return out;
}
