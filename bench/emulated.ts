/**
 * Running a compiled project and counting what it executes: on the host target ticks are
 * nanoseconds, on an emulated board (QEMU under -icount) they are instructions, which do not depend
 * on the machine the benchmark runs on.
 */
import { buildProject } from '../src/build/build_project.ts';
import { openProjectDevice } from '../src/connect/connect.ts';
import type { Device } from '../src/link/device.ts';
import type { ProjectManifest } from '../src/project/manifest.ts';

export const RUNS = Number(process.env.BENCH_RUNS ?? 5);

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A fixed, non-constant sample of the model's input size (every run sees the same bytes). */
export const sampleInput = (bytes: number) => new Uint8Array(bytes).map((_, i) => (i * 37) & 0xff);

export const inputBytesOf = (m: ProjectManifest) => m.inputs.reduce((s, t) => s + t.bytes, 0);

/** Builds the project (portable C, or the target's DSP kernels) and runs `measure` on the device it opens. */
export async function withDevice<T>(dir: string, manifest: ProjectManifest, portable: boolean, measure: (d: Device) => Promise<T>): Promise<T> {
  buildProject(dir, { portable });
  const device = await openProjectDevice(dir, manifest, { timeoutMs: 60_000 });
  try {
    return await measure(device);
  } finally {
    await device.close();
  }
}

/** Median ticks of one inference (the device's own profile of the last call). */
export async function ticksPerInference(device: Device, inputBytes: number): Promise<number> {
  const input = sampleInput(inputBytes);
  const totals: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await device.infer(input);
    totals.push((await device.profile()).totalTicks);
  }
  return median(totals);
}

/** Median ticks of one training step (forward, loss, backward and updates), as the TRAIN_STEP reply reports them. */
export async function ticksPerTrainStep(device: Device, inputBytes: number): Promise<number> {
  const input = sampleInput(inputBytes);
  const totals: number[] = [];
  for (let i = 0; i < RUNS; i++) totals.push((await device.trainStep(input, i % 2)).ticks);
  return median(totals);
}
