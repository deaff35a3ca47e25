/**
 * One turn of the event loop, for long synchronous loops inside async code (training loops, fuzzing):
 * timers, I/O and child processes get served in between, where a microtask (await of a resolved
 * promise) would not let them. A test worker that never turns for a minute loses its link to vitest.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
