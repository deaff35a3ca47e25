/** The mcutrain command line: finds the command, settles its options (flags, environment, config file) and runs it; main.ts is the process around it. */
import { parseArgs } from 'node:util';
import { closest } from '../util/option_values.ts';
import { VERSION } from '../version.ts';
import { COMMANDS, type Command } from './commands.ts';
import { CONFIG_FILE, findConfigFile, readConfig, settleOptions, type OptionSpec } from './config.ts';
import { EXIT, UsageError } from './exit_codes.ts';
import { withJsonStdout } from './json_output.ts';
import { detail, setVerbosity } from './verbosity.ts';
import { warn } from './warn.ts';

/** Options every command takes. */
const COMMON_OPTIONS: OptionSpec = {
  help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' }, quiet: { type: 'boolean', short: 'q' },
};

const COMMON_HELP = [
  'Every command also takes:',
  '  --json          print the result as JSON on stdout (other output goes to stderr)',
  '  -v, --verbose   say where each setting came from (flag, environment, mcutrain.config.json, default)',
  '  -q, --quiet     print only the result and errors (no warnings, notices or progress)',
  '  -h, --help      this help',
  'An option not given takes MCUTRAIN_TARGET / MCUTRAIN_PORT for --target / --port, else its value in',
  'mcutrain.config.json (the first found from the current folder upward), else its default.',
].join('\n');

const USAGE = `mcutrain ${VERSION} — compile .tflite models into a tiny int8 engine for microcontrollers

Usage: mcutrain <command> [options]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}\n            mcutrain ${c.usage}`).join('\n')}

Run 'mcutrain <command> --help' for a command's options; -V, --version prints the version.
Settings: a flag, else MCUTRAIN_TARGET / MCUTRAIN_PORT, else mcutrain.config.json (found from the current
folder upward), else the default. Exit status: 0 done, 1 failed, 2 bad command line or config, 70 a bug.`;

/** The common options that may come before the command's name (not --help, which there means mcutrain's help). */
const LEADING_OPTIONS = new Set(['--json', '-v', '--verbose', '-q', '--quiet']);

/** Every option some command takes: the keys a config file may hold. */
const ALL_OPTIONS: OptionSpec = Object.assign({}, COMMON_OPTIONS, ...Object.values(COMMANDS).map((c) => c.options));

/** Runs one command line; returns the exit status, or throws the error that ends it (exitCodeOf gives its status). */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<number> {
  setVerbosity('normal');
  // The common options may also come before the command (mcutrain -q compile ...), as PlatformIO takes them.
  const before = argv.findIndex((a) => !LEADING_OPTIONS.has(a));
  const leading = before < 0 ? argv : argv.slice(0, before);
  const [name, ...after] = argv.slice(leading.length);
  const rest = [...leading, ...after];
  const verbose = leading.find((a) => a === '-v' || a === '--verbose');
  if (!name && verbose) throw new UsageError(`'${verbose}' is --verbose, and names no command`, 'mcutrain -V (or --version) prints the version');
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    console.log(VERSION);
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    const near = closest(name, Object.keys(COMMANDS));
    throw new UsageError(`unknown command '${name}'`, `${near ? `did you mean '${near}'? ` : ''}run 'mcutrain --help' for the list of commands`);
  }
  const spec: OptionSpec = { ...command.options, ...COMMON_OPTIONS };
  const flags = parseCommandLine(name, command, spec, rest);
  if (flags.values.help) {
    console.log(`Usage: mcutrain ${command.usage}\n\n${command.summary}\n\n${command.help}${command.help ? '\n\n' : ''}${COMMON_HELP}`);
    return EXIT.ok;
  }
  setVerbosity(flags.values.quiet ? 'quiet' : flags.values.verbose ? 'verbose' : 'normal');
  if (flags.renamed) warn(flags.renamed);
  const configFile = findConfigFile(cwd);
  const config = readConfig(configFile, ALL_OPTIONS);
  detail(configFile ? `settings file ${configFile}` : `no ${CONFIG_FILE} from ${cwd} upward`);
  const { values, sources } = settleOptions(flags.values, spec, config, env, command.flagOnly);
  const typed = new Set(Object.keys(sources).filter((option) => sources[option] === 'flag'));
  for (const [option, source] of Object.entries(sources)) if (source !== 'default' && !(option in COMMON_OPTIONS)) detail(`--${option} ${values[option]} (from ${source})`);
  return await withJsonStdout(values.json === true, () => command.run(flags.positionals, values, { config, typed }));
}

/** The command's flags, with did-you-mean for an unknown one; `--json FILE.json` (before --json printed to stdout) read as --json-out FILE.json. */
function parseCommandLine(name: string, command: Command, spec: OptionSpec, args: string[]) {
  let renamed: string | undefined;
  const withoutDefaults = Object.fromEntries(Object.entries(spec).map(([k, { type, short }]) => [k, short ? { type, short } : { type }]));
  if ('json-out' in spec) {
    const at = args.findIndex((a, i) => a === '--json' && args[i + 1]?.endsWith('.json') && !args[i + 1].startsWith('-'));
    if (at >= 0) {
      renamed = `'--json ${args[at + 1]}' is now '--json-out ${args[at + 1]}' (--json alone prints the JSON on stdout)`;
      args = [...args.slice(0, at), '--json-out', ...args.slice(at + 1)];
    }
  }
  try {
    const parsed = parseArgs({ args, options: withoutDefaults, allowPositionals: true, strict: true });
    return { positionals: parsed.positionals, values: parsed.values as Record<string, string | boolean | undefined>, renamed };
  } catch (e) {
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec((e as Error).message)?.[1];
    if (unknown) {
      const near = closest(unknown.replace(/^-+/, ''), Object.keys(spec));
      throw new UsageError(`${name}: unknown option '${unknown}'`, `${near ? `did you mean '--${near}'? ` : ''}see mcutrain ${name} --help`);
    }
    throw new UsageError(`${name}: ${(e as Error).message}`, `usage: mcutrain ${command.usage}`);
  }
}
