/**
 * The exit status of a mcutrain command, one meaning each (README, "Exit codes"): scripts can tell a
 * command line to fix (2) from a run that failed (1) and from a bug in mcutrain (70, sysexits' EX_SOFTWARE).
 */
import { McutrainError } from '../errors.ts';
import { fileSystemError } from '../util/fs_errors.ts';

export const EXIT = {
  /** The command did what was asked. */
  ok: 0,
  /** It could not: a bad model, a missing tool, a budget not met, a device that failed, a file that cannot be written. */
  error: 1,
  /** The command line (or mcutrain.config.json) is wrong: an unknown command or option, a bad option value, missing arguments. */
  usage: 2,
  /** A bug in mcutrain: anything else that escapes. */
  internal: 70,
} as const;

/** A mistake in how the command was called: exit status 2. */
export class UsageError extends McutrainError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = 'UsageError';
  }
}

/** `e` as a usage error, keeping its message and hint (an option value the stage's own checker refused). */
export const asUsageError = (e: unknown): unknown => (e instanceof McutrainError && !(e instanceof UsageError) ? new UsageError(e.message, e.hint) : e);

/** The error the user can act on (a McutrainError, or a file-system failure named as one), or undefined for a bug. */
export function userError(e: unknown): McutrainError | undefined {
  return e instanceof McutrainError ? e : fileSystemError(e);
}

export function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError) return EXIT.usage;
  return userError(e) ? EXIT.error : EXIT.internal;
}
