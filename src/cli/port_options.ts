/** The --port / --baud options every command that talks to a device takes. */
import { numberOption, str, type Values } from './options.ts';

export const PORT_OPTIONS = { port: { type: 'string', short: 'p' }, baud: { type: 'string' } } as const;

export const PORT_HELP = [
  '  -p, --port PATH    a board on this serial port (see mcutrain ports); without it a board',
  '                     project runs on its emulated twin (QEMU)',
  '  --baud N           the port\'s baud rate (default: the target\'s UART setting)',
].join('\n');

export function portOptions(v: Values): { port?: string; baud?: number } {
  return { port: str(v.port), baud: numberOption(v, 'baud', { integer: true, min: 1 }) };
}
