/** Something the user should know that does not stop the run: on stderr, so stdout stays the result. */
export function warn(message: string): void {
  console.error(`mcutrain: warning: ${message}`);
}
