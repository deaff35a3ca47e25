/**
 * The engine builds the training end-to-end tests share: one model and scheme compiled and built for
 * the host (ASan/UBSan) and for the emulated Cortex-M7, concurrently and off the test worker's event
 * loop, and a fresh engine opened on either.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { writeTflite } from '../../src/export/write_tflite.ts';
import type { Graph } from '../../src/ir/graph.ts';
import type { Device } from '../../src/link/device.ts';
import { buildProjectAsync } from '../../src/build/build_project.ts';
import { openProjectDevice } from '../../src/connect/connect.ts';
import { compileModel, type TrainOptions } from '../../src/project/compile_project.ts';
import { readManifest, type ProjectManifest } from '../../src/project/manifest.ts';

/** Budgets only a hang exhausts: a sanitized build of vww96 alone takes about a minute on a loaded 2-core machine. */
export const BUILD_BUDGET_MS = 20 * 60_000;
export const TEST_BUDGET_MS = 15 * 60_000;
export const REPLY_TIMEOUT_MS = 5 * 60_000;

export interface Built { dir: string; manifest: ProjectManifest; sanitized: boolean }

/** One model compiled with `train` for `target` into dir, and built (sanitized: ASan/UBSan, host only). */
export async function buildTraining(dir: string, modelPath: string, target: string, sanitized: boolean, train: TrainOptions): Promise<Built> {
  compileModel({ modelPath, target, outDir: dir, train });
  await buildProjectAsync(dir, { sanitize: sanitized });
  return { dir, manifest: readManifest(dir), sanitized }; // as built: with the image's hash, which a board device checks
}

/** The host build (ASan/UBSan, in work/host) and the emulated Cortex-M7's (work/an500). */
export async function buildHostAndBoard(work: string, modelPath: string, train: TrainOptions): Promise<{ host: Built; board: Built }> {
  const [host, board] = await Promise.all([
    buildTraining(path.join(work, 'host'), modelPath, 'host', true, train),
    buildTraining(path.join(work, 'an500'), modelPath, 'mps2-an500', false, train),
  ]);
  return { host, board };
}

/**
 * The graph with learned weights, written as a .tflite (work/tuned.tflite, what `mcutrain weights`
 * writes) and compiled into a plain inference engine for the host: it answers every input exactly as
 * the trained device does.
 */
export async function expectTunedModelAnswersAs(device: Device, graph: Graph, inputs: Uint8Array[], work: string): Promise<void> {
  const tuned = path.join(work, 'tuned.tflite');
  writeFileSync(tuned, writeTflite(graph));
  const dir = path.join(work, 'tuned-host');
  const { manifest } = compileModel({ modelPath: tuned, target: 'host', outDir: dir });
  await buildProjectAsync(dir);
  const plain = await openProjectDevice(dir, manifest, { timeoutMs: REPLY_TIMEOUT_MS });
  try {
    for (const x of inputs) expect(Array.from(await plain.infer(x))).toEqual(Array.from(await device.infer(x)));
  } finally {
    await plain.close();
  }
}

/** A fresh engine (its own process, or QEMU boot) on a shared build. */
export const openBuilt = (b: Built) => openProjectDevice(b.dir, b.manifest, { timeoutMs: REPLY_TIMEOUT_MS, sanitized: b.sanitized });

/** Fresh engines on both builds of a pair (the host's closed again when the board's cannot be opened). */
export async function openHostAndBoard(host: Built, board: Built): Promise<{ hostDevice: Device; boardDevice: Device }> {
  const hostDevice = await openBuilt(host);
  const boardDevice = await openBuilt(board).catch(async (e: unknown) => {
    await hostDevice.close();
    throw e;
  });
  return { hostDevice, boardDevice };
}
