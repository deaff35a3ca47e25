import { notice } from './verbosity.ts';

/** Something the user should know that does not stop the run: on stderr, so stdout stays the result (silent with --quiet). */
export function warn(message: string): void {
  notice(`mcutrain: warning: ${message}`);
}
