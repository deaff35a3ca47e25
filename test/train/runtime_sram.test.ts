/**
 * The planned SRAM covers the linked image: real images built with arm-none-eabi-gcc (no board needed) for one
 * target of every firmware platform, a training build (micro_speech, trained weights with momentum) on each and an
 * inference build on two, and the SRAM their ELF takes in the target's SRAM region (.data + .bss + the stack)
 * compared with the planner's total, whose runtime term (the link's and platform's own variables, alignment)
 * comes from memory_report.ts. What the plan leaves over is pinned: a runtime that grows fails here.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProjectAsync, linkedSramBytes } from '../../src/build/build_project.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { loadTarget } from '../../src/targets/target.ts';
import { model, tempDir } from '../helpers/paths.ts';

const work = tempDir('runtime-sram');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const TRAIN = 'weights:layers=-1,-2@1/2,bias:last=2,momentum=0.5';
/** The same with int16 gradients: their exponent table (one byte per gradient tensor) is the runtime's too. */
const TRAIN_I16 = `${TRAIN},grad=i16`;

/** Planned total and linked SRAM of one build. */
async function measure(target: string, modelFile: string, scheme: string | null): Promise<{ planned: number; linked: number; runtime: number }> {
  const dir = path.join(work, `${target}-${scheme === null ? 'infer' : scheme === TRAIN ? 'train' : 'train-i16'}-${modelFile}`);
  const { fit } = compileModel({ modelPath: model(modelFile), target, outDir: dir, train: scheme === null ? undefined : { scheme, arith: 'float' } }); // float on every board (rp2040's default is integer-only)
  const { artifact } = await buildProjectAsync(dir);
  return { planned: fit.sram.totalBytes, linked: linkedSramBytes(artifact, loadTarget(target)), runtime: fit.sram.runtimeBytes };
}

// [target, model, training scheme (null: inference), planned - linked]: the 8-B hyperparameters of a training build and the alignment the plan
// allows for (up to 30 B) that the linker did not need (with i16 gradients, 2 B more: their 2-entry exponent table sits in padding)
const CASES: [string, string, string | null, number][] = [
  ['mps2-an500', 'micro_speech_int8.tflite', TRAIN, 11],
  ['stm32f746g-disco', 'micro_speech_int8.tflite', TRAIN, 11],
  ['nucleo-h743zi', 'micro_speech_int8.tflite', TRAIN, 11],
  ['nrf52840-dk', 'micro_speech_int8.tflite', TRAIN, 11],
  ['rp2040-pico', 'micro_speech_int8.tflite', TRAIN, 11],
  ['mps2-an500', 'hello_world_int8.tflite', null, 31],
  ['nrf52840-dk', 'micro_speech_int8.tflite', null, 19],
  ['mps2-an500', 'micro_speech_int8.tflite', TRAIN_I16, 13],
];

describe('planned SRAM against the linked image', () => {
  it('plans at least the SRAM every platform\'s linked image takes, by the pinned margin', async () => {
    const measured: { planned: number; linked: number; runtime: number }[] = [];
    for (let i = 0; i < CASES.length; i += 2) { // two builds at a time: the machine has two cores
      measured.push(...await Promise.all(CASES.slice(i, i + 2).map(([t, m, train]) => measure(t, m, train))));
    }
    const lines = measured.map(({ planned, linked, runtime }, k) =>
      `${CASES[k][0]} ${CASES[k][1]} ${CASES[k][2] === null ? 'inference' : `training ${CASES[k][2]}`}: planned ${planned} B (runtime ${runtime}), linked ${linked} B`);
    console.log(lines.map((l, k) => `${l}, margin ${measured[k].planned - measured[k].linked} B`).join('\n'));
    for (const [k, m] of measured.entries()) expect(m.planned, lines[k]).toBeGreaterThanOrEqual(m.linked);
    expect(measured.map((m) => m.planned - m.linked)).toEqual(CASES.map((c) => c[3]));
  }, 30 * 60_000);
});
