/**
 * The commands' option values: OPTION_VALUES declares, once, what each option accepts (a choice, a
 * number in a range, a size), and optionValue reads and checks it there, for every command that takes
 * it. The choices are the stages' own lists, checked by the same reader (src/util/option_values.ts)
 * when a stage function is called directly, so a bad value fails the same way wherever it is given.
 */
import { asUsageError, UsageError } from './exit_codes.ts';
import type { PixelMapping } from '../data/input_file.ts';
import { DEFAULT_NUMERICS, NUMERICS, type Numerics } from '../lower/numerics.ts';
import { PATCH_MODES, type PatchMode } from '../plan/patch_stage.ts';
import { RANGE_METHODS } from '../quantize/calibrate.ts';
import type { FullyConnectedWeights, IoType, WeightType } from '../quantize/quantize_graph.ts';
import { parseBytes } from '../search/budget.ts';
import { STEPS_RANGE } from '../search/contribution.ts';
import { ARITH_TYPES, GRAD_TYPES, LR_RANGE, MOMENTUM_RANGE } from '../train/scheme.ts';
import { oneOf, parseNumber, type NumberRange } from '../util/option_values.ts';
import { SEED_RANGE } from '../util/random.ts';

export type Values = Record<string, string | boolean | undefined>;

export const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

export function onePositional(positionals: string[], what: string, usage: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected ${what}, got ${positionals.length ? positionals.join(' ') : 'nothing'}`, `usage: mcutrain ${usage}`);
  return positionals[0];
}

/** What an option's value may be. */
type ValueKind<T> =
  | { kind: 'choice'; values: readonly T[] }
  | { kind: 'number'; range: NumberRange }
  | { kind: 'size' };

const choice = <T extends string>(values: readonly T[]): ValueKind<T> => ({ kind: 'choice', values });
const number = (range: NumberRange = {}): ValueKind<number> => ({ kind: 'number', range });

export const PIXEL_MAPPINGS: readonly PixelMapping[] = ['shift', 'bytes'];

/** Every option value a command checks, by option name (the same name means the same values in every command). */
export const OPTION_VALUES = {
  // choices
  numerics: choice<Numerics>(NUMERICS),
  patches: choice<PatchMode>(PATCH_MODES),
  grad: choice(GRAD_TYPES),
  arith: choice(ARITH_TYPES),
  pixels: choice(PIXEL_MAPPINGS),
  method: choice(RANGE_METHODS),
  io: choice<IoType>(['int8', 'float32']),
  fc: choice<FullyConnectedWeights>(['per-tensor', 'per-channel']),
  weights: choice<WeightType>(['int8', 'int4']),
  // numbers
  lr: number(LR_RANGE),
  momentum: number(MOMENTUM_RANGE),
  seed: number(SEED_RANGE),
  epochs: number({ integer: true, min: 1, max: 100_000 }),
  'checkpoint-every': number({ integer: true, min: 1, max: 1_000_000 }),
  steps: number(STEPS_RANGE),
  jobs: number({ integer: true, min: 1, max: 256 }),
  runs: number({ integer: true, min: 1, max: 1000 }),
  baud: number({ integer: true, min: 1 }),
  limit: number({ integer: true, min: 1 }),
  percentile: number({ min: 50, max: 100 }),
  classes: number({ integer: true, min: 1 }),
  width: number(), // the zoo checks it against the architecture
  // sizes
  budget: { kind: 'size' } as ValueKind<number>,
} as const;

export type OptionName = keyof typeof OPTION_VALUES;
type ValueOf<N extends OptionName> = (typeof OPTION_VALUES)[N] extends ValueKind<infer T> ? T : never;

/** `--name`'s value, read and checked as OPTION_VALUES declares it; undefined when it is not given. */
export function optionValue<N extends OptionName>(v: Values, name: N): ValueOf<N> | undefined {
  const value = v[name];
  if (value === undefined) return undefined;
  const kind: ValueKind<unknown> = OPTION_VALUES[name];
  const flag = `--${name}`;
  try {
    switch (kind.kind) {
      case 'choice': return oneOf(value, kind.values as readonly string[], flag) as ValueOf<N>;
      case 'number': return parseNumber(String(value), flag, kind.range) as ValueOf<N>;
      case 'size': return parseBytes(String(value), `the ${name}`) as ValueOf<N>;
    }
  } catch (e) {
    throw asUsageError(e); // a value the command line got wrong: exit status 2
  }
}

export function pixelsOption(v: Values): PixelMapping {
  return optionValue(v, 'pixels') ?? 'shift';
}

export function numericsOption(v: Values): Numerics {
  return optionValue(v, 'numerics') ?? DEFAULT_NUMERICS;
}

export const PATCH_HELP = [
  '  --patches auto|fit|off  run the early stage patch by patch: auto takes the layout with the smallest arena,',
  '                       fit the one recomputing the fewest MACs whose build fits the target\'s SRAM (with',
  '                       --train auto: the --budget), off none (default: auto with --train, off without)',
].join('\n');
