/**
 * A model that does not fit the board: compile refuses it when its constants alone overflow Flash (the
 * fit verdict), and the build fails, naming the region and the overflow, when the code tips it over.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Graph } from '../../src/ir/graph.ts';
import { writeTflite } from '../../src/export/write_tflite.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { buildProjectAsync } from '../../src/build/build_project.ts';
import { tempDir } from '../helpers/paths.ts';

/** One int8 FULLY_CONNECTED layer with `inputs x outputs` weights. */
function fcModel(inputs: number, outputs: number): Graph {
  const q = (scale: number) => ({ scale: [scale], zeroPoint: [0], axis: 0 });
  return {
    name: 'big-fc',
    tensors: [
      { id: 0, name: 'x', dtype: 'int8', shape: [1, inputs], quant: { scale: [0.05], zeroPoint: [-3], axis: 0 } },
      { id: 1, name: 'w', dtype: 'int8', shape: [outputs, inputs], quant: q(0.001), data: new Uint8Array(outputs * inputs).map((_, i) => (i * 7) % 5) },
      { id: 2, name: 'b', dtype: 'int32', shape: [outputs], quant: q(0.00005), data: new Uint8Array(outputs * 4) },
      { id: 3, name: 'y', dtype: 'int8', shape: [1, outputs], quant: { scale: [0.1], zeroPoint: [2], axis: 0 } },
    ],
    operators: [{ id: 0, kind: 'FULLY_CONNECTED', options: { activation: 'NONE', keepNumDims: false }, inputs: [0, 1, 2], outputs: [3] }],
    inputs: [0],
    outputs: [3],
  };
}

describe('a model too big for the board', () => {
  it('is refused by compile on the STM32F746G-DISCO (1 MB Flash) when its constants alone overflow Flash', () => {
    const dir = tempDir('toobig');
    const file = path.join(dir, 'big.tflite');
    writeFileSync(file, writeTflite(fcModel(1024, 1200))); // 1.2 MB of weights
    const out = path.join(dir, 'project');
    expect(() => compileModel({ modelPath: file, target: 'stm32f746g-disco', outDir: out }))
      .toThrow(/does not fit stm32f746g-disco: the inference build needs \d+ B of constants in Flash but stm32f746g-disco has 1048576 B/);
    expect(existsSync(out)).toBe(false);
  });

  it('fails the build with the overflow in bytes when the constants fit but the code does not', async () => {
    const dir = tempDir('toobig');
    const file = path.join(dir, 'big.tflite');
    writeFileSync(file, writeTflite(fcModel(1024, 1010))); // 1,038,280 B of constants: 10 KB short of 1 MB, less than the code
    const out = path.join(dir, 'project');
    expect(compileModel({ modelPath: file, target: 'stm32f746g-disco', outDir: out }).fit.fits).toBe(true);
    await expect(buildProjectAsync(out)).rejects.toThrow(/does not fit the board: it overflows Flash \(1048576 B\) by \d+ bytes/);
  });
});
