/**
 * The int8 kernels build for Cortex-M with arm-none-eabi-gcc, with the strict warnings, freestanding
 * (no C library headers at all: only the compiler's own stdint.h/stddef.h), for the smallest core
 * (M0+, no DSP, no hardware divide) and an M7 with FPU. Skipped where the cross compiler is missing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { STRICT_FLAGS } from './c_harness.ts';

const FIRMWARE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../firmware');
const CC = 'arm-none-eabi-gcc';
const hasCrossCompiler = spawnSync(CC, ['--version']).status === 0;
const KERNELS = ['conv', 'depthwise_conv', 'fully_connected', 'pooling', 'add', 'clamp_mask'];
const CPUS = [['-mcpu=cortex-m0plus', '-mthumb'], ['-mcpu=cortex-m7', '-mthumb', '-mfpu=fpv5-d16', '-mfloat-abi=hard']];

const dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-cortex-m-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasCrossCompiler)('kernels for Cortex-M', () => {
  const compilerIncludes = hasCrossCompiler ? spawnSync(CC, ['-print-file-name=include'], { encoding: 'utf8' }).stdout.trim() : '';
  for (const kernel of KERNELS) {
    it(`${kernel}.c compiles freestanding for M0+ and M7`, () => {
      for (const cpu of CPUS) {
        const r = spawnSync(CC, [
          ...STRICT_FLAGS, ...cpu, '-ffreestanding', '-nostdinc', '-isystem', compilerIncludes,
          `-I${path.join(FIRMWARE, 'include')}`, '-c', path.join(FIRMWARE, 'kernels', `${kernel}.c`),
          '-o', path.join(dir, `${kernel}.o`),
        ], { encoding: 'utf8' });
        expect(r.stderr, `${cpu[0]}`).toBe('');
        expect(r.status).toBe(0);
      }
    });
  }
});
