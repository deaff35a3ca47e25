/**
 * How much a command says besides its result: --quiet keeps stderr to errors (no warnings, notices or
 * progress), --verbose adds where each setting came from. Set once per command line by cli.ts.
 */
export type Verbosity = 'quiet' | 'normal' | 'verbose';

let level: Verbosity = 'normal';

export function setVerbosity(v: Verbosity): void {
  level = v;
}

export const verbosity = (): Verbosity => level;

/** Something the user should see that is not the result (a twin starting, a warning): on stderr, unless --quiet. */
export function notice(message: string): void {
  if (level !== 'quiet') console.error(message);
}

/** What --verbose adds: on stderr. */
export function detail(message: string): void {
  if (level === 'verbose') console.error(`mcutrain: ${message}`);
}
