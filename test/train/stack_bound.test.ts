/**
 * The stack a training image needs (bench/stack_bound.ts): a static bound from arm-none-eabi-gcc's call graph
 * with frame sizes covers what the emulated Cortex-M7 really used (the platform paints its stack at boot) over
 * an INFER, an EVALUATE and two TRAIN_STEPs; and the bound of each board's image fits the stack its target
 * reserves (targets/*.json stackBytes, 4 KiB). The bounds are pinned exactly: a kernel whose frame grows shows here.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { staticStackBound } from '../../bench/stack_bound.ts';
import { buildProjectAsync } from '../../src/build/build_project.ts';
import { openProjectDevice } from '../../src/connect/connect.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { readManifest } from '../../src/project/manifest.ts';
import { loadTarget } from '../../src/targets/target.ts';
import { model, tempDir } from '../helpers/paths.ts';

const work = tempDir('stack-bound');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SCHEME = 'weights:layers=-1,-2@1/2,bias:last=2';

/** Compiles micro_speech with training for `target`, and links it when asked (staticStackBound builds its own copy); the project's folder. */
async function compiled(target: string, link: boolean): Promise<string> {
  const dir = path.join(work, target);
  compileModel({ modelPath: model('micro_speech_int8.tflite'), target, outDir: dir, train: { scheme: SCHEME, arith: 'float' } }); // the float engine on every board (rp2040's default is the integer one)
  if (link) await buildProjectAsync(dir);
  return dir;
}

describe('the stack of a training image', () => {
  it('stays under the static bound on the emulated Cortex-M7', async () => {
    const dir = await compiled('mps2-an500', true);
    const bound = await staticStackBound(dir, work);
    const device = await openProjectDevice(dir, readManifest(dir), { timeoutMs: 10 * 60_000 });
    let used: number | undefined;
    try {
      const sample = Uint8Array.from({ length: (await device.trainInfo()).inputBytes }, (_, i) => (i * 37) & 0xff);
      await device.infer(sample);
      await device.evaluate(sample, 1);
      for (const label of [0, 1]) await device.trainStep(sample, label);
      used = (await device.profile()).stackHighWaterBytes;
    } finally {
      await device.close();
    }
    // What was used depends on where the UART and SysTick interrupts happened to land (968 to 1,016 B seen); the bound does not.
    expect(used).toBeGreaterThan(0);
    expect(bound.bytes).toBeGreaterThanOrEqual(used!);
    // The deepest call is the split conv (mt_conv_s8_split, 744 B: -2@1/2 keeps only its trained rows in SRAM).
    expect({ bound: bound.bytes, thread: bound.threadBytes, exceptions: bound.exceptionBytes }).toEqual({ bound: 1784, thread: 1368, exceptions: 416 });
    expect(bound.path.slice(0, 3)).toEqual(['mt_reset_handler(8)', 'main(8)', 'mt_link_serve(240)']);
  }, 20 * 60_000);

  it('fits the stack each board reserves (4 KiB), with the bounds pinned', async () => {
    // rp2040-pico 1,396 -> 1,500 B with the integer kernels' merge: the depthwise gather (depthwise_grad_gather.inc)
    // that the float, narrow and integer kernels share now keeps a per-channel sum, deepest via
    // mt_depthwise_conv_grad_input_i16 on the M0+ (no DSP: the portable kernels).
    const boards: [string, number][] = [['stm32f746g-disco', 1584], ['nrf52840-dk', 1584], ['rp2040-pico', 1500]];
    const bounds: number[] = [];
    for (const [target] of boards) bounds.push((await staticStackBound(await compiled(target, false), work)).bytes);
    for (const [k, [target]] of boards.entries()) expect(bounds[k], target).toBeLessThanOrEqual(loadTarget(target).stackBytes!);
    expect(bounds).toEqual(boards.map(([, b]) => b));
  }, 20 * 60_000);
});
