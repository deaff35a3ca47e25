/**
 * `--json`, the same on every command: stdout holds one JSON document, the command's result, and the
 * lines a person would read (progress notes, tables) go to stderr instead, so `mcutrain X --json | jq`
 * always parses.
 */
import { format } from 'node:util';
import type { Values } from './options.ts';
import { notice } from './verbosity.ts';

/** The command's result as JSON on stdout (with --json), else `text` (a function, so it is only formatted when shown). */
export function printResult(v: Values, result: unknown, text?: () => string): void {
  if (v.json === true) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else if (text) console.log(text());
}

/** Runs `run` with console.log sent to stderr when `json` is set (dropped with --quiet): the command's human output stays off stdout. */
export async function withJsonStdout<T>(json: boolean, run: () => Promise<T>): Promise<T> {
  if (!json) return run();
  const log = console.log;
  console.log = (...args: unknown[]) => notice(format(...args));
  try {
    return await run();
  } finally {
    console.log = log;
  }
}
