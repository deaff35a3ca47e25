/** The mcutrain command line: finds the command, parses its arguments and runs it; main.ts is the process around it. */
import { parseArgs } from 'node:util';
import { McutrainError } from '../errors.ts';
import { closest } from '../util/option_values.ts';
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
  if (!command) {
    const near = closest(name, Object.keys(COMMANDS));
    throw new McutrainError(`unknown command '${name}'`, `${near ? `did you mean '${near}'? ` : ''}run 'mcutrain --help' for the list of commands`);
  }
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

