/** The --port / --baud options every command that talks to a device takes. */
import { optionValue, str, type Values } from './options.ts';
import { notice } from './verbosity.ts';

export const PORT_OPTIONS = { port: { type: 'string', short: 'p' }, baud: { type: 'string' } } as const;

export const PORT_HELP = [
  '  -p, --port PATH    a board on this serial port (see mcutrain ports); without it a board',
  '                     project runs on its emulated twin (QEMU), started if none runs; it keeps',
  '                     its state between commands until mcutrain reset or mcutrain stop',
  '  --baud N           the port\'s baud rate (default: the target\'s UART setting)',
].join('\n');

/** Also: a board without --port runs on its managed emulated twin, which outlives the command, and the user is told when one starts. */
export function portOptions(v: Values): { port?: string; baud?: number; managedTwin: true; notify: (message: string) => void } {
  return { port: str(v.port), baud: optionValue(v, 'baud'), managedTwin: true, notify: notice };
}
