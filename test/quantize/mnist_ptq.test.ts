/**
 * Post-training quantization on real data, reduced from experiments/mnist_ptq.ts: a small CNN
 * trained (seeded) on MNIST digits from the `mnist` package, its weights copied into an IR graph,
 * quantized by mcutrain, compiled for the host and run image by image on the generated int8 engine.
 * The int8 engine must stay within 1.5 percentage points of the float model and far above chance.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  accuracyOfLogits, loadDigits, maxIrDeviation, runQuantizedOnEngine, split, trainMnist,
} from '../helpers/mnist_pipeline.ts';
import { tempDir } from '../helpers/paths.ts';

const SEED = 1;

describe('MNIST post-training quantization (int8, host engine)', () => {
  const work = tempDir('mnist-ptq');
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('keeps the float model\'s test accuracy within 1.5 pp', async () => {
    const { train, test } = split(loadDigits(), 2000, 500, SEED);
    const model = await trainMnist(train, { epochs: 2, batchSize: 32, learningRate: 0.005, seed: SEED });
    try {
      // The weight copy into TFLite layouts is checked before anything is quantized.
      expect(await maxIrDeviation(model, test.slice(0, 10))).toBeLessThan(1e-4);
      const floatLogits = model.logits(test);
      const floatAccuracy = accuracyOfLogits(floatLogits, test);
      const int8 = await runQuantizedOnEngine(model.graph, train.slice(0, 100), test, floatLogits, work, 'mnist_int8');
      expect(floatAccuracy).toBeGreaterThan(0.8);
      expect(int8.accuracy).toBeGreaterThan(0.8);
      expect(Math.abs(int8.accuracy - floatAccuracy)).toBeLessThan(0.015);
      expect(int8.disagreements).toBeLessThan(test.length * 0.03);
    } finally {
      model.dispose();
    }
  });
});
