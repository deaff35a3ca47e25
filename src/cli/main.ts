/** The mcutrain command line: parses arguments and wires the stages together; no logic of its own. */
import { parseArgs } from 'node:util';
import { McutrainError } from '../errors.ts';
import { fileSystemError } from '../util/fs_errors.ts';
import { VERSION } from '../version.ts';
import { COMMANDS } from './commands.ts';

const USAGE = `mcutrain ${VERSION} — compile .tflite models into a tiny int8 engine for microcontrollers

Usage: mcutrain <command> [options]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}\n            mcutrain ${c.usage}`).join('\n')}

Run 'mcutrain <command> --help' for a command's options.`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (name === '--version' || name === '-v') {
    console.log(VERSION);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) throw new McutrainError(`unknown command '${name}'`, `run 'mcutrain --help' for the list of commands`);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new McutrainError(`${name}: ${(e as Error).message}`, `usage: mcutrain ${command.usage}`);
  }
  if (parsed.values.help) {
    console.log(`Usage: mcutrain ${command.usage}\n\n${command.summary}\n\n${command.help}`);
    return 0;
  }
  return await command.run(parsed.positionals, parsed.values as Record<string, string | boolean | undefined>);
}

/**
 * A reader that goes away early (`mcutrain plan ... | head`) ends our output, not the run: the write
 * error is dropped, as are later writes to the closed stream, so the command still finishes its work
 * (files it writes, a device it closes) and exits with its own status.
 */
function tolerateClosedOutput(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || stream.destroyed) return;
    throw e;
  });
}

tolerateClosedOutput(process.stdout);
tolerateClosedOutput(process.stderr);

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    const error = e instanceof McutrainError ? e : fileSystemError(e);
    if (error) {
      console.error(`mcutrain: error: ${error.message}`);
      if (error.hint) console.error(`  hint: ${error.hint}`);
      process.exitCode = 1;
    } else {
      console.error('mcutrain: internal error (a bug; please report it with the command you ran):');
      console.error(e);
      process.exitCode = 70;
    }
  },
);
