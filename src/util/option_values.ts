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
  const near = typeof value === 'string' ? closest(value, allowed) : undefined;
  throw new McutrainError(`${what} must be one of ${allowed.join(', ')}, not ${shown(value)}`, near === undefined ? undefined : `did you mean '${near}'?`);
}

/** Edits (insert, delete, substitute, swap two neighbours) turning `a` into `b`, case ignored. */
function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const d = Array.from({ length: x.length + 1 }, (_, i) => Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[x.length][y.length];
}

/** The one of `names` nearest to `typed`, if it is near enough to be what was meant (a third of its letters at most). */
export function closest(typed: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of names) {
    const distance = editDistance(typed, name);
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
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

/** The number `text` writes in decimal, or NaN for anything else (hex, "Infinity", empty text). */
export function decimal(text: string): number {
  const t = text.trim();
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t) ? Number(t) : NaN;
}

/** `value` when it is a number within `r` (a stage function's option, given as a number). */
export function numberIn(value: unknown, what: string, r: NumberRange): number {
  if (typeof value === 'number' && inRange(value, r)) return value;
  throw new McutrainError(`${what} must be ${describeRange(r)}, not ${shown(value)}`);
}

/** A number written in decimal within `r`. */
export function parseNumber(text: string, what: string, r: NumberRange = {}): number {
  const n = decimal(text);
  if (!inRange(n, r)) throw new McutrainError(`${what} must be ${describeRange(r)}, not '${text}'`);
  return n;
}
