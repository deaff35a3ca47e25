/**
 * Reading the commands' option values: each kind (a choice, a number in a range, a size) has one
 * reader, shared by every command that takes it and by the stage functions behind them
 * (src/util/option_values.ts), so a bad value fails the same way wherever it is given.
 */
import { McutrainError } from '../errors.ts';
import type { PixelMapping } from '../data/input_file.ts';
import { parseNumerics, type Numerics } from '../lower/numerics.ts';
import { parsePatchMode, type PatchMode } from '../plan/patch_stage.ts';
import { parseBytes } from '../search/budget.ts';
import { parseGradType, type GradType } from '../train/scheme.ts';
import { oneOf, parseNumber, type NumberRange } from '../util/option_values.ts';

export type Values = Record<string, string | boolean | undefined>;

export const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

export function onePositional(positionals: string[], what: string, usage: string): string {
  if (positionals.length !== 1) throw new McutrainError(`expected ${what}, got ${positionals.length ? positionals.join(' ') : 'nothing'}`, `usage: mcutrain ${usage}`);
  return positionals[0];
}

/** `--name`'s number within `range`, or undefined when it is not given. */
export function numberOption(v: Values, name: string, range: NumberRange = {}): number | undefined {
  const text = str(v[name]);
  return text === undefined ? undefined : parseNumber(text, `--${name}`, range);
}

/** `--name`'s value, one of `allowed`, or undefined when it is not given. */
export function choiceOption<T extends string>(v: Values, name: string, allowed: readonly T[]): T | undefined {
  return v[name] === undefined ? undefined : oneOf(v[name], allowed, `--${name}`);
}

/** `--name` as bytes (262144, 256KiB, 256KB, 0.25MiB), or undefined when it is not given. */
export function sizeOption(v: Values, name: string): number | undefined {
  const text = str(v[name]);
  return text === undefined ? undefined : parseBytes(text, `the ${name}`);
}

export const PIXEL_MAPPINGS: readonly PixelMapping[] = ['shift', 'bytes'];

export function pixelsOption(v: Values): PixelMapping {
  return choiceOption(v, 'pixels', PIXEL_MAPPINGS) ?? 'shift';
}

export function numericsOption(v: Values): Numerics {
  return parseNumerics(v.numerics, '--numerics');
}

export const PATCH_HELP = [
  '  --patches auto|fit|off  run the early stage patch by patch: auto takes the layout with the smallest arena,',
  '                       fit the one recomputing the fewest MACs whose build fits the target\'s SRAM (with',
  '                       --train auto: the --budget), off none (default: auto with --train, off without)',
].join('\n');

/** --patches, checked; undefined leaves the stage's default (auto with training, off without). */
/** --grad f32|i16|i8 (gradient storage), or undefined: the scheme's own. */
export function gradOption(v: Values): GradType | undefined {
  const g = str(v.grad);
  return g === undefined ? undefined : parseGradType(g, '--grad');
}

export function patchesOption(v: Values): PatchMode | undefined {
  return v.patches === undefined ? undefined : parsePatchMode(v.patches, false, '--patches');
}
