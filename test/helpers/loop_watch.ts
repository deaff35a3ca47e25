/**
 * Setup file (vitest.config.ts): says when synchronous work blocked a test worker's event loop for long.
 * vitest's RPC from the worker to the main process times out after 60 s without the loop turning, and
 * then fails the run ("Timeout calling onTaskUpdate") though every test passed; this names the culprit
 * first. It only reports, never fails a test. Each test also starts on a fresh turn of the loop: vitest
 * chains tests with promises, so a file of synchronous tests would otherwise never let the loop turn.
 */
import { afterAll, beforeEach, expect } from 'vitest';
import { nextTurn } from '../../src/util/event_loop.ts';

const TICK_MS = 1000;
/** Report blocks longer than this; MCUTRAIN_LOOP_WATCH_MS lowers it to hunt for shorter ones. */
const REPORT_MS = Number(process.env.MCUTRAIN_LOOP_WATCH_MS ?? 20_000);

let last = performance.now();
/** The tests that ran since the last tick: the block happened in one of them (or in their hooks). */
let since: string[] = [];
beforeEach(async () => {
  since.push(expect.getState().currentTestName ?? '?');
  await nextTurn();
});
const timer = setInterval(() => {
  const now = performance.now();
  const blocked = now - last - TICK_MS;
  last = now;
  const running = expect.getState().currentTestName;
  const suspects = since.length > 0 ? since : [running ?? 'a hook or the file\'s top level'];
  since = running ? [running] : [];
  if (blocked > REPORT_MS) {
    const names = suspects.map((t) => `'${t}'`);
    const where = names.length > 3 ? `${names.length} tests from ${names[0]} to ${names[names.length - 1]}` : names.join(' or ');
    console.warn(`${expect.getState().testPath ?? 'a test file'}: synchronous work blocked the test worker's event loop for ${(blocked / 1000).toFixed(0)} s ` +
      `(in ${where}); vitest's RPC times out at 60 s: make it asynchronous (spawn instead of spawnSync, buildProjectAsync, yield in long loops)`);
  }
}, TICK_MS);
timer.unref();
afterAll(() => clearInterval(timer));
