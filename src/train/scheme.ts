/**
 * The training scheme: what Sparse Update trains, how (SGD, momentum, QAS), in two spellings:
 *   inline  "bias:last=8,weights:layers=21@1/4,24@1,qas=off,momentum=0.9,lr=0.05,grad=i16"
 *   JSON    { "bias": { "last": 8 }, "weights": [{ "layer": 21, "fraction": 0.25 }, { "layer": 24 }],
 *             "qas": false, "momentum": 0.9, "lr": 0.05, "grad": "i16" }
 * and "arith=int" / "arith": "int" for the integer-only engine (absent: the target's default, see
 * src/train/integer_arith.ts).
 * In the inline list a fraction applies to the layers since the previous one: "21,24@1/4" is both
 * layers at a quarter, "3@1/2,7" is layer 3 at half and 7 whole.
 * Layers are weighted layers (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED) counted from 0 in execution
 * order; a negative index counts from the end (-1 = the classifier). A fraction trains the first
 * fraction of the layer's output channels (1/8, 1/4, 1/2 or 1); "in" before it ("24@in1/4", JSON
 * "inputFraction": 0.25) the first fraction of its input channels instead, for every output channel
 * (1x1 convolutions and FULLY_CONNECTED layers, as the paper's 49 KB scheme trains them).
 */
import { existsSync, readFileSync } from 'node:fs';
import { McutrainError } from '../errors.ts';
import { closest, decimal, inRange, oneOf, type NumberRange } from '../util/option_values.ts';

export const CHANNEL_FRACTIONS = [0.125, 0.25, 0.5, 1] as const;

/** How gradient tensors are stored: float32, or int16 / int8 with a power-of-two exponent per tensor and step. */
export const GRAD_TYPES = ['f32', 'i16', 'i8'] as const;
export type GradType = (typeof GRAD_TYPES)[number];
export const DEFAULT_GRAD: GradType = 'f32';
/** The gradient storage of the integer-only engine when the scheme names none. */
const INT_DEFAULT_GRAD: GradType = 'i16';

/** A gradient type from its name, or an error naming `what`, the value and the choices. */
export function parseGradType(value: unknown, what: string): GradType {
  return oneOf(value, GRAD_TYPES, what);
}

/** The arithmetic of the backward pass and updates: float32, or integer-only (cores without an FPU). */
export const ARITH_TYPES = ['float', 'int'] as const;
export type ArithType = (typeof ARITH_TYPES)[number];

export interface WeightUpdate {
  layer: number;
  /** Of the output channels (the first ones). */
  fraction: number;
  /** Of the input channels (the first ones, every output channel); absent = 1. Below 1 only with `fraction` 1. */
  inputFraction?: number;
}

export interface TrainingScheme {
  /** Biases of the last `biasLast` weighted layers. */
  biasLast: number;
  weights: WeightUpdate[];
  /** Quantization-Aware Scaling of the int8/int32 gradients (on by default). */
  qas: boolean;
  /** SGD momentum; 0 = plain SGD, no optimizer state. */
  momentum: number;
  /** Learning rate the firmware starts with (SET_HYPER changes it at run time). */
  lr: number;
  /** Storage of the gradient tensors (absent: f32, or i16 with arith int; validateScheme leaves it out for f32). */
  grad?: GradType;
  /** Integer-only or float32 training arithmetic (absent: the target decides, integer_arith.ts). */
  arith?: ArithType;
}

export const DEFAULT_LR = 0.05;
/** The values a learning rate and a momentum may take, wherever they are given (scheme, flag, API). */
export const LR_RANGE: NumberRange = { min: 0 };
export const MOMENTUM_RANGE: NumberRange = { min: 0, below: 1 };

const HINT = 'write a scheme like "bias:last=8,weights:layers=21,24@1/4" or a JSON file (docs/training.md)';

/** A scheme from its inline form, its JSON text, or a .json file when `text` names one. */
export function parseScheme(text: string): TrainingScheme {
  const trimmed = text.trim();
  if (trimmed.endsWith('.json') || (existsSync(trimmed) && !trimmed.includes(':'))) {
    if (!existsSync(trimmed)) throw new McutrainError(`training scheme file '${trimmed}' does not exist`, HINT);
    return schemeFromJson(readJson(readFileSync(trimmed, 'utf8'), `training scheme file '${trimmed}'`), trimmed);
  }
  if (trimmed.startsWith('{')) return schemeFromJson(readJson(trimmed, 'the training scheme'), 'the scheme');
  return schemeFromJson(inlineToJson(trimmed), 'the training scheme');
}

function readJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new McutrainError(`${what} is not valid JSON (${(e as Error).message})`, HINT);
  }
}

/** The JSON spelling of a scheme (what a scheme .json file holds). */
interface SchemeJson {
  bias?: { last: unknown };
  weights?: { layer: unknown; fraction?: unknown; inputFraction?: unknown }[];
  qas?: unknown;
  momentum?: unknown;
  lr?: unknown;
  grad?: unknown;
  arith?: unknown;
}

/**
 * The inline form rewritten as its JSON, so both spellings share one reader (schemeFromJson).
 * "layers=21,24@1/4" puts both layers at a quarter: a fraction closes the group of layers before it;
 * "3@1/2,7" is layer 3 at half and layer 7 whole.
 */
function inlineToJson(text: string): SchemeJson {
  const json: SchemeJson = {};
  // Split on commas that start a new key=value or key:... part (a word, even a misspelt one); "layers=21,24@1/4" keeps its list.
  const parts = text.split(/,(?=\s*[a-z]\w*\s*[=:])/i).map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new McutrainError('the training scheme is empty', HINT);
  const seen = new Set<string>();
  for (const part of parts) {
    const key = part.match(/^\w+/)?.[0] ?? part;
    if (seen.has(key)) throw new McutrainError(`the training scheme gives ${key} twice`, 'give each part of the scheme once');
    seen.add(key);
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^bias:last=(.+)$/))) {
      json.bias = { last: inlineNumber(m[1], 'bias:last') };
    } else if ((m = part.match(/^weights:layers=(.+)$/))) {
      json.weights = inlineLayerList(m[1]);
    } else if ((m = part.match(/^qas=(on|off|true|false)$/))) {
      json.qas = m[1] === 'on' || m[1] === 'true';
    } else if ((m = part.match(/^momentum=(.+)$/))) {
      json.momentum = inlineNumber(m[1], 'momentum');
    } else if ((m = part.match(/^lr=(.+)$/))) {
      json.lr = inlineNumber(m[1], 'lr');
    } else if ((m = part.match(/^grad=(.*)$/))) {
      json.grad = m[1].trim();
    } else if ((m = part.match(/^arith=(.*)$/))) {
      json.arith = m[1].trim();
    } else {
      const near = closest(part.split(/[=:]/)[0], ['bias', 'weights', 'qas', 'momentum', 'lr', 'grad', 'arith']);
      throw new McutrainError(`cannot read '${part}' in the training scheme`, near ? `did you mean ${near}? ${HINT}` : HINT);
    }
  }
  return json;
}

function inlineLayerList(text: string): { layer: unknown; fraction?: unknown; inputFraction?: unknown }[] {
  const out: { layer: unknown; fraction?: unknown; inputFraction?: unknown }[] = [];
  let pending: unknown[] = [];
  for (const group of text.split(',')) {
    const [layerText, fractionText, extra] = group.split('@');
    if (extra !== undefined) throw new McutrainError(`cannot read '${group.trim()}' in the training scheme's layers`, HINT);
    pending.push(inlineNumber(layerText, 'layer'));
    if (fractionText !== undefined) {
      const f = fractionText.trim();
      out.push(...pending.map((layer) => (f.startsWith('in') ? { layer, inputFraction: f.slice(2) } : { layer, fraction: f })));
      pending = [];
    }
  }
  out.push(...pending.map((layer) => ({ layer, fraction: 1 })));
  return out;
}

/** A number of the inline form, written in decimal as the command-line options are. */
function inlineNumber(text: string, what: string): number {
  const v = decimal(text);
  if (!Number.isFinite(v)) throw new McutrainError(`${what} '${text.trim()}' in the training scheme is not a number`, HINT);
  return v;
}

/** A fraction as a number (0.25) or as text ("1/4", "0.25"). */
function fractionOf(value: unknown, layer: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const m = value.trim().match(/^1\/(\d+)$/);
    const v = m ? 1 / Number(m[1]) : decimal(value);
    if (Number.isFinite(v)) return v;
  }
  throw new McutrainError(`channel fraction ${JSON.stringify(value)} of layer ${String(layer)} is not one of 1/8, 1/4, 1/2, 1`, HINT);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyFields(o: Record<string, unknown>, known: string[], where: string): void {
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length === 0) return;
  const near = unknown.length === 1 ? closest(unknown[0], known) : undefined;
  throw new McutrainError(`${where} has unknown field(s) ${unknown.join(', ')}`, near ? `did you mean "${near}"? (fields: ${known.join(', ')})` : `use ${known.join(', ')}`);
}

/** The one reader of a scheme's fields (both spellings come through here), then the one validator. */
function schemeFromJson(json: unknown, source: string): TrainingScheme {
  if (!isObject(json)) throw new McutrainError(`${source} must hold a JSON object`, HINT);
  onlyFields(json, ['bias', 'weights', 'qas', 'momentum', 'lr', 'grad', 'arith'], source);
  const number = (v: unknown, what: string, fallback: number): number => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number') throw new McutrainError(`${source}: ${what} must be a number, not ${JSON.stringify(v)}`, HINT);
    return v;
  };
  const { bias, weights = [], qas = true } = json;
  if (bias !== undefined && !isObject(bias)) throw new McutrainError(`${source}: "bias" must be { "last": K }`, HINT);
  if (bias) onlyFields(bias, ['last'], `${source}: "bias"`);
  if (!Array.isArray(weights)) throw new McutrainError(`${source}: "weights" must be a list of { "layer", "fraction" }`, HINT);
  if (typeof qas !== 'boolean') throw new McutrainError(`${source}: "qas" must be true or false, not ${JSON.stringify(qas)}`, HINT);
  return validateScheme({
    biasLast: number(bias?.last, 'bias.last', 0),
    weights: weights.map((w: unknown) => {
      if (!isObject(w)) throw new McutrainError(`${source}: each entry of "weights" must be { "layer", "fraction" }, not ${JSON.stringify(w)}`, HINT);
      onlyFields(w, ['layer', 'fraction', 'inputFraction'], `${source}: a "weights" entry`);
      if (w.layer === undefined) throw new McutrainError(`${source}: the "weights" entry ${JSON.stringify(w)} has no "layer"`, HINT);
      return {
        layer: number(w.layer, 'a weights layer', NaN),
        fraction: w.fraction === undefined ? 1 : fractionOf(w.fraction, w.layer),
        ...(w.inputFraction === undefined ? {} : { inputFraction: fractionOf(w.inputFraction, w.layer) }),
      };
    }),
    qas,
    momentum: number(json.momentum, 'momentum', 0),
    lr: number(json.lr, 'lr', DEFAULT_LR),
    grad: json.grad === undefined ? undefined : parseGradType(json.grad, `${source}: grad`),
    arith: json.arith === undefined ? undefined : oneOf(json.arith, ARITH_TYPES, `${source}: arith`),
  });
}

/** The one check of a scheme's values, whatever spelling or override it came from; returns a copy. */
export function validateScheme(s: TrainingScheme): TrainingScheme {
  if (!Number.isInteger(s.biasLast) || s.biasLast < 0) throw new McutrainError(`bias:last=${s.biasLast} must be a whole number >= 0`, HINT);
  const seen = new Set<number>();
  for (const w of s.weights) {
    if (!Number.isInteger(w.layer)) throw new McutrainError(`weights layer ${w.layer} is not an integer`, HINT);
    if (seen.has(w.layer)) throw new McutrainError(`the scheme names the weights of layer ${w.layer} twice`, 'list each layer once');
    seen.add(w.layer);
    for (const f of [w.fraction, w.inputFraction ?? 1]) {
      if (!CHANNEL_FRACTIONS.includes(f as (typeof CHANNEL_FRACTIONS)[number])) {
        throw new McutrainError(`channel fraction ${f} of layer ${w.layer} is not one of 1/8, 1/4, 1/2, 1`, HINT);
      }
    }
    if (w.fraction < 1 && (w.inputFraction ?? 1) < 1) {
      throw new McutrainError(`layer ${w.layer} has a fraction of its output channels and one of its input channels`,
        'train a fraction of either (e.g. 24@1/4 or 24@in1/4), not both');
    }
  }
  if (s.biasLast === 0 && s.weights.length === 0) {
    throw new McutrainError('the training scheme trains nothing', 'name biases (bias:last=K) or weights (weights:layers=...)');
  }
  if (typeof s.qas !== 'boolean') throw new McutrainError(`qas must be on or off, not ${String(s.qas)}`, HINT);
  if (!inRange(s.momentum, MOMENTUM_RANGE)) throw new McutrainError(`momentum ${s.momentum} must lie in [0, 1)`, HINT);
  if (!inRange(s.lr, LR_RANGE)) throw new McutrainError(`learning rate ${s.lr} must be a finite number >= 0`, HINT);
  const arith = s.arith === undefined ? undefined : oneOf(s.arith, ARITH_TYPES, 'the training scheme\'s arith');
  const grad = s.grad === undefined ? (arith === 'int' ? INT_DEFAULT_GRAD : DEFAULT_GRAD) : parseGradType(s.grad, 'the training scheme\'s grad');
  if (arith === 'int') {
    if (grad === 'f32') {
      throw new McutrainError('the integer-only engine (arith=int) stores gradients as int16 or int8, not float32',
        'use grad=i16 (the default with arith=int) or grad=i8, or arith=float (--arith float) for float32 gradients');
    }
    if (s.momentum !== 0) {
      throw new McutrainError(`the integer-only engine (arith=int) has no momentum (the scheme asks for momentum ${s.momentum})`,
        'use momentum 0 (plain SGD), or arith=float (--arith float) for SGD with momentum');
    }
  }
  return {
    biasLast: s.biasLast, weights: s.weights.map((w) => ({ layer: w.layer, fraction: w.fraction, ...((w.inputFraction ?? 1) < 1 ? { inputFraction: w.inputFraction } : {}) })),
    qas: s.qas, momentum: s.momentum, lr: s.lr,
    // absent for float32, as in schemes written before narrow gradients; an explicit one kept while the arithmetic is
    // open, so that the target's default (int on a core without an FPU) refuses it as --grad f32 is refused
    ...(grad !== DEFAULT_GRAD || (arith === undefined && s.grad !== undefined) ? { grad } : {}),
    ...(arith !== undefined ? { arith } : {}),
  };
}

/**
 * The one printer of a scheme's fields, as both spellings write them: the bias only when trained,
 * each layer's fraction of its output channels or (below 1) of its input channels, the gradient
 * storage only when narrow, the arithmetic only when integer-only.
 */
function schemeFields(s: TrainingScheme) {
  return {
    ...(s.biasLast > 0 ? { bias: { last: s.biasLast } } : {}),
    ...(s.weights.length > 0
      ? { weights: s.weights.map((w) => (w.inputFraction !== undefined && w.inputFraction < 1 ? { layer: w.layer, inputFraction: w.inputFraction } : { layer: w.layer, fraction: w.fraction })) }
      : {}),
    qas: s.qas, momentum: s.momentum, lr: s.lr,
    ...((s.grad ?? DEFAULT_GRAD) !== DEFAULT_GRAD ? { grad: s.grad } : {}),
    ...(s.arith === 'int' ? { arith: s.arith } : {}), // float, the engine before arith, left out as f32 gradients are
  };
}

const fractionText = (f: number) => (f === 1 ? '1' : `1/${1 / f}`);
/** A layer's fraction as the inline form writes it: "1/4" of the output channels, "in1/4" of the input channels. */
const updateText = (w: { fraction?: number; inputFraction?: number }) => (w.inputFraction !== undefined ? `in${fractionText(w.inputFraction)}` : fractionText(w.fraction!));

/**
 * The inline spelling of a scheme (what mcutrain.json records and `mcutrain scheme` prints). Every
 * group of layers ends with its fraction, "1" included ("2@1,6,8@1/4"), so no layer can take the
 * fraction of the group after it. Momentum 0 is left out.
 */
export function schemeToString(s: TrainingScheme): string {
  const f = schemeFields(s);
  const parts: string[] = [];
  if (f.bias) parts.push(`bias:last=${f.bias.last}`);
  if (f.weights) {
    const ws = f.weights;
    const groups = ws.map((w, i) => (ws[i + 1] && updateText(ws[i + 1]) === updateText(w) ? `${w.layer}` : `${w.layer}@${updateText(w)}`));
    parts.push(`weights:layers=${groups.join(',')}`);
  }
  parts.push(`qas=${f.qas ? 'on' : 'off'}`);
  if (f.momentum !== 0) parts.push(`momentum=${f.momentum}`);
  parts.push(`lr=${f.lr}`);
  if (f.grad) parts.push(`grad=${f.grad}`);
  if (f.arith) parts.push(`arith=${f.arith}`);
  return parts.join(',');
}

/** The JSON spelling of a scheme (what `mcutrain scheme -o` writes; parseScheme reads it back exactly). */
export function schemeToJson(s: TrainingScheme): string {
  return JSON.stringify(schemeFields(s), null, 2) + '\n';
}
