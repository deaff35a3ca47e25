/**
 * Checking an option's value, once, for the command line and the API alike: a stage function given
 * 'bogus' fails exactly as the flag would, naming the value and what is allowed, instead of quietly
 * taking a default.
 */
import { McutrainError } from '../errors.ts';

const shown = (value: unknown) => (typeof value === 'string' ? `'${value}'` : String(value));

/** `value` when it is one of `allowed`; `what` names the option ("--patches", "patches"). */
export function oneOf<T extends string>(value: unknown, allowed: readonly T[], what: string): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new McutrainError(`${what} must be one of ${allowed.join(', ')}, not ${shown(value)}`);
}

/** Bounds of a numeric option; all optional. */
export interface NumberRange {
  integer?: boolean;
  min?: number;
  max?: number;
  /** Exclusive upper bound. */
  below?: number;
}

function describeRange(r: NumberRange): string {
  const kind = r.integer ? 'an integer' : 'a number';
  if (r.min !== undefined && r.max !== undefined) return `${kind} from ${r.min} to ${r.max}`;
  if (r.min !== undefined && r.below !== undefined) return `${kind} in [${r.min}, ${r.below})`;
  if (r.min !== undefined) return `${kind} >= ${r.min}`;
  if (r.max !== undefined) return `${kind} <= ${r.max}`;
  return kind;
}

/** Whether `n` is a finite number within `r`. */
export function inRange(n: number, r: NumberRange): boolean {
  return Number.isFinite(n) && (!r.integer || Number.isInteger(n)) && !(r.min !== undefined && n < r.min)
    && !(r.max !== undefined && n > r.max) && !(r.below !== undefined && n >= r.below);
}

/** A number written in decimal (no hex, no "Infinity", no empty text) within `r`. */
export function parseNumber(text: string, what: string, r: NumberRange = {}): number {
  const t = text.trim();
  const n = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t) ? Number(t) : NaN;
  if (!inRange(n, r)) throw new McutrainError(`${what} must be ${describeRange(r)}, not '${text}'`);
  return n;
}
