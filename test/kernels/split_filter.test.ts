/**
 * The kernels that read a weight tensor split between SRAM and Flash (mt_split_filter: the trained
 * block of a partly trained tensor, firmware/test/kernel_test_split.c) give the bits the same kernels
 * give on the whole tensor: CONV_2D (no groups) and FULLY_CONNECTED forward, their input gradients
 * (float32, and int16 / int8 with their exponents); splits by output channels (any filter size, stride,
 * dilation, padding) and by input channels (1x1 convolutions, FC), of every size.
 *  - on the host with the portable kernels and with the DSP twins (instructions emulated in C), under ASan/UBSan;
 *  - on the emulated Cortex-M7 (mps2-an500, make DSP=1: the twins themselves);
 *  - a corrupted trained weight is caught (the check can fail).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIRMWARE, loadMps2Target, makeFirmware, runHarnessOnBoard, writeMps2Project, type MakeResult } from '../emulate/mps2_firmware.ts';
import { buildKernelHarness, type KernelHarness } from './c_harness.ts';

const KERNELS = ['conv', 'conv_grad_input', 'fully_connected', 'fully_connected_grad_input', 'grad_input_s16', 'grad_input_s8'];
/* the input gradients: float32 and narrow (int16, int8: train_narrow.h; they need the loss's mt_expf) */
const BACKWARD = ['conv_backward', 'fully_connected_backward', 'grad_s16', 'grad_s8', 'train_loss'];
const HOST = '-DMT_HARNESS_HOST';
const HARNESS_MAIN = 'runtime/test/kernel_test_split.c';
const hasCrossCompiler = spawnSync('arm-none-eabi-gcc', ['--version']).status === 0;
const hasQemu = spawnSync(process.env.MCUTRAIN_QEMU ?? 'qemu-system-arm', ['--version']).status === 0;

/** CASES lines: kernel -> [cases, mismatching cases]. */
function casesOf(output: string): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const line of output.split('\n')) {
    const w = line.trim().split(/\s+/);
    if (w[0] === 'CASES') out.set(w[1], [Number(w[2]), Number(w[3])]);
  }
  return out;
}

function expectAllAgree(output: string, cases: number): void {
  const c = casesOf(output);
  expect(output).not.toMatch(/MISMATCH/);
  expect([...c.keys()].sort(), output).toEqual([...KERNELS].sort());
  for (const k of ['conv', 'conv_grad_input', 'fully_connected', 'fully_connected_grad_input']) expect(c.get(k), `${k}\n${output}`).toEqual([cases, 0]);
  // the narrow input gradients: a conv and an FC case each, grad_in and its exponent compared
  for (const k of ['grad_input_s16', 'grad_input_s8']) expect(c.get(k), `${k}\n${output}`).toEqual([2 * cases, 0]);
}

describe.each([
  ['portable', ['conv', 'fully_connected', ...BACKWARD], [HOST]],
  ['DSP twins, emulated', ['arm/conv', 'arm/fully_connected', 'arm/dsp', ...BACKWARD], [HOST, '-DMT_DSP_EMULATE']],
])('split filters on the host, %s kernels (ASan/UBSan)', (_name, kernels, flags) => {
  let harness: KernelHarness;
  beforeAll(() => { harness = buildKernelHarness('split', kernels, flags); });
  afterAll(() => harness?.cleanup());

  it('give the whole tensor\'s bits on 3000 random cases of each kernel', () => {
    expectAllAgree(harness.run(['2026', '3000']), 3000);
  });

  it('and a corrupted trained weight is caught', () => {
    let failure = '';
    try {
      harness.run(['2026', '60', '1']);
    } catch (error) {
      failure = (error as Error).message;
    }
    expect(failure).toMatch(/exited 1/);
    const c = casesOf(failure);
    for (const k of KERNELS) expect(c.get(k)![1], k).toBeGreaterThan(0);
  });
});

describe.skipIf(!hasCrossCompiler || !hasQemu)('split filters on the emulated Cortex-M7 (DSP twins)', () => {
  let dir: string | undefined;
  let built: MakeResult;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-split-'));
    writeMps2Project(dir, loadMps2Target('mps2-an500'), { linkServer: false });
    cpSync(path.join(FIRMWARE, 'kernels'), path.join(dir, 'runtime', 'kernels'), { recursive: true });
    mkdirSync(path.join(dir, 'runtime', 'test'), { recursive: true });
    for (const f of ['kernel_test_split.c', 'harness_io.h']) cpSync(path.join(FIRMWARE, 'test', f), path.join(dir, 'runtime', 'test', f));
    built = await makeFirmware(dir, HARNESS_MAIN, ['DSP=1']);
  }, 600_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('give the whole tensor\'s bits on 1500 random cases of each kernel, and catch a corrupted weight', async () => {
    expect(built.ok, built.log).toBe(true);
    expect(built.log).toContain('runtime/kernels/arm/conv.c');
    expect(built.log).toContain('runtime/kernels/arm/fully_connected.c');
    const run = await runHarnessOnBoard('mps2-an500', built.elf, [77, 1500, 0]);
    expect(run.code, `${run.output}\n${run.qemu}`).toBe(0);
    expectAllAgree(run.output, 1500);

    const bad = await runHarnessOnBoard('mps2-an500', built.elf, [77, 60, 1]);
    expect(bad.code).toBe(1);
    expect(casesOf(bad.output).get('conv')![1]).toBeGreaterThan(0);
  }, 600_000);
});
