/**
 * The training scheme: what Sparse Update trains, how (SGD, momentum, QAS), in two spellings:
 *   inline  "bias:last=8,weights:layers=21,24@0.25,qas=off,momentum=0.9,lr=0.05"
 *   JSON    { "bias": { "last": 8 }, "weights": [{ "layer": 21, "fraction": 0.25 }, { "layer": 24 }],
 *             "qas": false, "momentum": 0.9, "lr": 0.05 }
 * Layers are weighted layers (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED) counted from 0 in execution
 * order; a negative index counts from the end (-1 = the classifier). A fraction trains the first
 * fraction of the layer's output channels (1/8, 1/4, 1/2 or 1).
 */
import { existsSync, readFileSync } from 'node:fs';
import { McutrainError } from '../errors.ts';

export const CHANNEL_FRACTIONS = [0.125, 0.25, 0.5, 1] as const;

export interface WeightUpdate {
  layer: number;
  fraction: number;
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
}

export const DEFAULT_LR = 0.05;

const HINT = 'write a scheme like "bias:last=8,weights:layers=21,24@0.25" or a JSON file (docs/training.md)';

/** A scheme from its inline form, or from a .json file when `text` names one. */
export function parseScheme(text: string): TrainingScheme {
  const trimmed = text.trim();
  if (trimmed.endsWith('.json') || (existsSync(trimmed) && !trimmed.includes(':'))) {
    if (!existsSync(trimmed)) throw new McutrainError(`training scheme file '${trimmed}' does not exist`, HINT);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(trimmed, 'utf8'));
    } catch (e) {
      throw new McutrainError(`training scheme file '${trimmed}' is not valid JSON (${(e as Error).message})`, HINT);
    }
    return schemeFromJson(json, trimmed);
  }
  if (trimmed.startsWith('{')) {
    try {
      return schemeFromJson(JSON.parse(trimmed), 'the scheme');
    } catch (e) {
      if (e instanceof McutrainError) throw e;
      throw new McutrainError(`the training scheme is not valid JSON (${(e as Error).message})`, HINT);
    }
  }
  return parseInlineScheme(trimmed);
}

function parseInlineScheme(text: string): TrainingScheme {
  const scheme: TrainingScheme = { biasLast: 0, weights: [], qas: true, momentum: 0, lr: DEFAULT_LR };
  // Split on commas that start a new key=value or key:... part; "layers=21,24@0.25" keeps its list.
  const parts = text.split(/,(?=\s*(?:bias|weights|qas|momentum|lr)\b)/).map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new McutrainError('the training scheme is empty', HINT);
  for (const part of parts) {
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^bias:last=(\d+)$/))) {
      scheme.biasLast = Number(m[1]);
    } else if ((m = part.match(/^weights:layers=(.+)$/))) {
      scheme.weights.push(...parseLayerList(m[1]));
    } else if ((m = part.match(/^qas=(on|off|true|false)$/))) {
      scheme.qas = m[1] === 'on' || m[1] === 'true';
    } else if ((m = part.match(/^momentum=(.+)$/))) {
      scheme.momentum = parseNumber(m[1], 'momentum');
    } else if ((m = part.match(/^lr=(.+)$/))) {
      scheme.lr = parseNumber(m[1], 'lr');
    } else {
      throw new McutrainError(`cannot read '${part}' in the training scheme`, HINT);
    }
  }
  return validateScheme(scheme);
}

/** "21,24@0.25" -> layers 21 and 24 at a quarter of their channels; "3@0.5,7" -> 3 at half, 7 whole. */
function parseLayerList(text: string): WeightUpdate[] {
  const groups = text.split(',').map((s) => s.trim());
  const out: WeightUpdate[] = [];
  let pending: number[] = [];
  for (const g of groups) {
    const [layerText, fractionText] = g.split('@');
    pending.push(parseInteger(layerText, 'layer'));
    if (fractionText !== undefined) {
      const fraction = parseFraction(fractionText);
      out.push(...pending.map((layer) => ({ layer, fraction })));
      pending = [];
    }
  }
  out.push(...pending.map((layer) => ({ layer, fraction: 1 })));
  return out;
}

function parseFraction(text: string): number {
  const t = text.trim();
  const m = t.match(/^1\/(\d+)$/);
  const value = m ? 1 / Number(m[1]) : Number(t);
  return value;
}

function parseInteger(text: string, what: string): number {
  const v = Number(text.trim());
  if (!Number.isInteger(v)) throw new McutrainError(`${what} '${text.trim()}' in the training scheme is not an integer`, HINT);
  return v;
}

function parseNumber(text: string, what: string): number {
  const v = Number(text.trim());
  if (!Number.isFinite(v)) throw new McutrainError(`${what} '${text.trim()}' in the training scheme is not a number`, HINT);
  return v;
}

function schemeFromJson(json: unknown, source: string): TrainingScheme {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new McutrainError(`${source} must hold a JSON object`, HINT);
  }
  const o = json as Record<string, unknown>;
  const known = new Set(['bias', 'weights', 'qas', 'momentum', 'lr']);
  const unknown = Object.keys(o).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new McutrainError(`${source} has unknown field(s) ${unknown.join(', ')}`, `use ${[...known].join(', ')}`);
  const bias = o.bias as { last?: unknown } | undefined;
  const weights = (o.weights ?? []) as unknown;
  if (!Array.isArray(weights)) throw new McutrainError(`${source}: "weights" must be a list of { "layer", "fraction" }`, HINT);
  return validateScheme({
    biasLast: bias === undefined ? 0 : Number(bias.last),
    weights: weights.map((w) => {
      const e = w as { layer?: unknown; fraction?: unknown };
      return { layer: Number(e.layer), fraction: e.fraction === undefined ? 1 : typeof e.fraction === 'string' ? parseFraction(e.fraction) : Number(e.fraction) };
    }),
    qas: o.qas === undefined ? true : o.qas === true,
    momentum: o.momentum === undefined ? 0 : Number(o.momentum),
    lr: o.lr === undefined ? DEFAULT_LR : Number(o.lr),
  });
}

function validateScheme(s: TrainingScheme): TrainingScheme {
  if (!Number.isInteger(s.biasLast) || s.biasLast < 0) throw new McutrainError(`bias:last=${s.biasLast} must be a whole number >= 0`, HINT);
  for (const w of s.weights) {
    if (!Number.isInteger(w.layer)) throw new McutrainError(`weights layer ${w.layer} is not an integer`, HINT);
    if (!CHANNEL_FRACTIONS.includes(w.fraction as (typeof CHANNEL_FRACTIONS)[number])) {
      throw new McutrainError(`channel fraction ${w.fraction} of layer ${w.layer} is not one of 1/8, 1/4, 1/2, 1`, HINT);
    }
  }
  if (s.biasLast === 0 && s.weights.length === 0) {
    throw new McutrainError('the training scheme trains nothing', 'name biases (bias:last=K) or weights (weights:layers=...)');
  }
  if (!(s.momentum >= 0 && s.momentum < 1)) throw new McutrainError(`momentum ${s.momentum} must lie in [0, 1)`, HINT);
  if (!(s.lr >= 0 && Number.isFinite(s.lr))) throw new McutrainError(`learning rate ${s.lr} must be a finite number >= 0`, HINT);
  return s;
}

/** The inline spelling of a scheme (what mcutrain.json records). */
export function schemeToString(s: TrainingScheme): string {
  const parts: string[] = [];
  if (s.biasLast > 0) parts.push(`bias:last=${s.biasLast}`);
  if (s.weights.length > 0) parts.push(`weights:layers=${s.weights.map((w) => (w.fraction === 1 ? `${w.layer}` : `${w.layer}@1/${1 / w.fraction}`)).join(',')}`);
  parts.push(`qas=${s.qas ? 'on' : 'off'}`);
  if (s.momentum !== 0) parts.push(`momentum=${s.momentum}`);
  parts.push(`lr=${s.lr}`);
  return parts.join(',');
}
