/**
 * The real C link server built around the hand-written test model (firmware/test/fake_model.c), with
 * -Werror and ASan/UBSan, and how the link tests open and close it. Shared by the link tests and the
 * fault runner (experiments/link_faults.ts), which runs outside vitest: hence node:assert.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { Device } from '../../src/link/device.ts';
import { HostTransport } from '../../src/link/host_transport.ts';
import { Tamper } from './tamper.ts';
import { runOk } from '../helpers/run.ts';

export const FIRMWARE = fileURLToPath(new URL('../../firmware', import.meta.url));
export const FAKE_ENGINE_SOURCES = ['link/link.c', 'link/crc32.c', 'platform/host/main.c', 'test/fake_model.c'].map((f) => path.join(FIRMWARE, f));
export const WARNINGS = ['-std=c99', '-Wall', '-Wextra', '-Werror', '-O2', `-I${path.join(FIRMWARE, 'include')}`];
export const SANITIZE = ['-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all'];

/** Compiles the fake engine to `out` (sanitized unless `sanitize` is false), with extra defines. */
export async function buildFakeEngine(out: string, defines: string[] = [], sanitize = true): Promise<void> {
  await runOk('gcc', [...WARNINGS, ...(sanitize ? SANITIZE : []), ...defines, ...FAKE_ENGINE_SOURCES, '-o', out]);
}

/** A reply timeout only a hang reaches: a sanitized engine on a loaded machine may take seconds to answer. */
export const HANG_TIMEOUT_MS = 120_000;

/**
 * Starts an engine behind a Tamper, with a Device on top. Tests of a lost reply pass a short `timeoutMs`,
 * the only way the Device learns of the loss; on a loaded machine an answer may then also come late,
 * so they assert what must hold (the request ran once), not how many attempts it took.
 */
export async function openTampered(engine: string, timeoutMs = HANG_TIMEOUT_MS) {
  const host = await HostTransport.start(engine);
  const tamper = new Tamper(host);
  const device = new Device(tamper, { timeoutMs });
  return { host, tamper, device };
}

/** The loss was noticed by a timeout and the request resent; a slow answer may have added more of both. */
export function expectResentAfterTimeouts(device: Device): void {
  assert.ok(device.stats.timeouts >= 1, `expected at least one timeout, saw ${device.stats.timeouts}`);
  assert.equal(device.stats.resends, device.stats.timeouts + device.stats.badCrcReplies);
}

/** Closes the engine and checks it exited 0 with nothing on stderr (no sanitizer report). */
export async function finish(host: HostTransport, device: Device) {
  await device.close();
  assert.deepEqual(host.exit, { code: 0, signal: null });
  assert.equal(host.stderr, '');
}
