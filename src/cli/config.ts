/**
 * Where a command's option values come from when the command line leaves them out: the environment
 * (MCUTRAIN_TARGET, MCUTRAIN_PORT), then the project's mcutrain.config.json (the first found from the
 * current folder upward), then the option's default. A flag always wins. The file is checked when it is
 * read: every key an option some command takes (or `boards`), every value of the option's type and,
 * where OPTION_VALUES declares it, checked as the flag's value is, with the file named in the error.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { closest } from '../util/option_values.ts';
import { isTargetFile, listTargets, loadTarget } from '../targets/target.ts';
import { UsageError } from './exit_codes.ts';
import { OPTION_VALUES, optionValue, type OptionName, type Values } from './options.ts';

export const CONFIG_FILE = 'mcutrain.config.json';

/** The environment variables that stand for options, and the option each gives. */
const ENV_OPTIONS: Record<string, string> = { MCUTRAIN_TARGET: 'target', MCUTRAIN_PORT: 'port' };

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; default?: string | boolean }>;

/** Options that say how one command line runs, not how a project is set up: not taken from the file. */
const PER_RUN = new Set(['help', 'json', 'verbose', 'quiet', 'out', 'resume', 'input', 'svg', 'json-out', 'checkpoint', 'drive', 'report', 'history', 'profile', 'bench']);

/** Options naming a file or folder: in the file, relative to the file's folder (as `target` and `train` when they name a .json). */
const PATHS = new Set(['calib', 'data', 'val', 'cache']);
const isPath = (key: string, value: string) => PATHS.has(key) || ((key === 'target' || key === 'train') && value.endsWith('.json'));

export interface ProjectConfig {
  /** The file read, if one was found. */
  file?: string;
  /** Option values from the file (paths in `target` resolved against the file's folder). */
  values: Values;
  /** Folders of user board files (`<name>.json`), absolute. */
  boards: string[];
}

/** The first mcutrain.config.json from `from` upward, if any. */
export function findConfigFile(from: string): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const file = path.join(dir, CONFIG_FILE);
    if (existsSync(file)) return file;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The config file `file` (undefined: none), checked against `known`, every option of every command. */
export function readConfig(file: string | undefined, known: OptionSpec): ProjectConfig {
  if (!file) return { values: {}, boards: [] };
  const bad = (problem: string, hint?: string) => new UsageError(`${file}: ${problem}`, hint);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw bad(`not valid JSON (${(e as Error).message})`, 'fix the file, or remove it');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('must hold one JSON object, e.g. { "target": "mps2-an500" }');
  const base = path.dirname(file);
  const config: ProjectConfig = { file, values: {}, boards: [] };
  const keys = ['boards', ...Object.keys(known).filter((k) => !PER_RUN.has(k))];
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'boards') {
      const folders = typeof value === 'string' ? [value] : value;
      if (!Array.isArray(folders) || !folders.every((f) => typeof f === 'string')) throw bad('"boards" must be a folder or a list of folders');
      config.boards = folders.map((f: string) => path.resolve(base, f));
      for (const folder of config.boards) if (!existsSync(folder)) throw bad(`"boards" folder '${folder}' does not exist`);
      continue;
    }
    if (!keys.includes(key)) {
      const near = closest(key, keys);
      throw bad(`unknown setting "${key}"`, `${near ? `did you mean "${near}"? ` : ''}settings are option names without the dashes: ${keys.join(', ')}`);
    }
    const type = known[key].type;
    if (type === 'boolean' ? typeof value !== 'boolean' : typeof value !== 'string' && typeof value !== 'number') {
      throw bad(`"${key}" must be ${type === 'boolean' ? 'true or false' : 'a string or a number'}, not ${JSON.stringify(value)}`);
    }
    config.values[key] = typeof value === 'number' ? String(value) : typeof value === 'string' && isPath(key, value) ? path.resolve(base, value) : value as string | boolean;
    if (key in OPTION_VALUES) {
      try {
        optionValue(config.values, key as OptionName);
      } catch (e) {
        throw bad(`"${key}": ${(e as Error).message}`, (e as UsageError).hint);
      }
    }
  }
  const target = config.values.target;
  if (typeof target === 'string' && !isTargetFile(target) && !listTargets().includes(target) && boardRef(target, config.boards) === target) {
    const near = closest(target, listTargets());
    throw bad(`"target": unknown target '${target}'`, `${near ? `did you mean '${near}'? ` : ''}name a target (mcutrain targets), a board file ("./myboard.json") or a board in a "boards" folder`);
  }
  return config;
}

/** The options typed on the command line (a command's context); run from code without one, every option given counts as typed. */
export const typedOptions = (v: Values, context?: { typed: ReadonlySet<string> }): ReadonlySet<string> =>
  context?.typed ?? new Set(Object.keys(v).filter((k) => v[k] !== undefined));

/** Where an option's value came from, for --verbose. */
export type Source = 'flag' | 'env' | 'config' | 'default';

/**
 * The command's option values: each from the command line, else the environment, else the config
 * file, else the option's default (`spec` holds the defaults; parseArgs was given none, so an option
 * missing from `flags` was not typed).
 */
export function settleOptions(flags: Values, spec: OptionSpec, config: ProjectConfig, env: NodeJS.ProcessEnv, flagOnly: string[] = []): { values: Values; sources: Record<string, Source> } {
  const values: Values = {};
  const sources: Record<string, Source> = {};
  const fromEnv: Record<string, string> = {};
  for (const [variable, option] of Object.entries(ENV_OPTIONS)) if (env[variable]) fromEnv[option] = env[variable]!;
  for (const [name, o] of Object.entries(spec)) {
    const inherits = !flagOnly.includes(name);
    const [value, source]: [string | boolean | undefined, Source] = flags[name] !== undefined ? [flags[name], 'flag']
      : inherits && fromEnv[name] !== undefined ? [fromEnv[name], 'env']
        : inherits && config.values[name] !== undefined ? [config.values[name], 'config']
          : [o.default, 'default'];
    if (value === undefined) continue;
    values[name] = value;
    sources[name] = source;
  }
  if (typeof values.target === 'string') {
    values.target = boardRef(values.target, config.boards);
    if (!isTargetFile(values.target) && !listTargets().includes(values.target)) {
      const from = { flag: '', env: ' (from MCUTRAIN_TARGET)', config: ` (from ${config.file})`, default: '' }[sources.target];
      const near = closest(values.target, [...listTargets(), ...userBoards(config).map((f) => path.basename(f, '.json'))]);
      throw new UsageError(`unknown target '${values.target}'${from}`,
        `${near ? `did you mean '${near}'? ` : ''}choose one of: ${listTargets().join(', ')} (mcutrain targets lists them), a board file (--target ./myboard.json) or a board in a "boards" folder of ${CONFIG_FILE}`);
    }
  }
  return { values, sources };
}

/** A target name from a boards folder as the path of its file; built-in names and file paths as they are. */
function boardRef(ref: string, folders: string[]): string {
  if (isTargetFile(ref) || listTargets().includes(ref)) return ref;
  for (const folder of folders) {
    const file = path.join(folder, `${ref}.json`);
    if (!existsSync(file)) continue;
    const { name } = loadTarget(file);
    if (name !== ref) throw new UsageError(`${file} names its board '${name}'`, `a project records its board by name: rename the file ${name}.json, or the board '${ref}'`);
    return file;
  }
  return ref; // loadTarget names it unknown, with the nearest name
}

/** The board files of the config's boards folders, by name. */
export function userBoards(config: ProjectConfig): string[] {
  return config.boards.flatMap((folder) => readdirSync(folder).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(folder, f)));
}
