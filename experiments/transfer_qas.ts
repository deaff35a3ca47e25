/**
 * Quantization-Aware Scaling on a transfer task (`npm run experiment:transfer-qas [-- --quick] [-- --patches=off]`): a small
 * MobileNet-style net pretrained on MNIST digits 0-4, quantized to int8 by mcutrain, fine-tuned on
 * digits 5-9 with one sparse scheme (test/helpers/transfer_pipeline.ts SCHEME) three ways: float SGD in
 * tfjs, the int8 host engine without QAS, with QAS. The paper's claim: int8 + QAS matches float, int8
 * without QAS falls well short. Each method gets the learning rate from its grid with the lowest online
 * loss (the loss of each sample before it is trained on; one pass, so every sample is unseen then):
 * no test data picks anything. Prints markdown tables and writes experiments/results/transfer_qas.json
 * (transfer_qas.quick.json with --quick).
 *
 * --patches=off keeps the engine's frozen early stage whole (compileModel's `patches`; default auto).
 * --grad=i16|i8 runs the engine with narrow gradients (the scheme's grad; default f32) and writes
 * transfer_qas.grad-<type>[.quick].json instead.
 * Environment: TRANSFER_SEED overrides the seed (1).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PatchMode } from '../src/project/compile_project.ts';
import { parseGradType, parseScheme } from '../src/train/scheme.ts';
import { writeFileAtomic } from '../src/util/fs_atomic.ts';
import { shuffled } from '../test/helpers/mnist_pipeline.ts';
import {
  buildTransferNet, evaluateFloat, FULL, finalMeanLoss, fineTuneEngine, fineTuneFloat, int8InferenceAccuracy, openTrainingEngine, pretrain,
  QUICK, quantizeToFile, SCHEME, transferData, type EngineMemory, type FineTuneResult, type Score,
} from '../test/helpers/transfer_pipeline.ts';

const quick = process.argv.includes('--quick');
// Whether the frozen early stage of the engine may run patch by patch (compileModel's default with a scheme: auto).
const patches: PatchMode = process.argv.includes('--patches=off') ? 'off' : 'auto';
const config = quick ? QUICK : FULL;
// The engine's gradient storage (the float SGD reference has none).
const gradArg = process.argv.find((a) => a.startsWith('--grad='));
const grad = gradArg ? parseGradType(gradArg.slice('--grad='.length), '--grad') : 'f32';
const engineScheme = grad === 'f32' ? SCHEME : `${SCHEME},grad=${grad}`;
const SEED = Number(process.env.TRANSFER_SEED ?? 1);

const log = (s: string) => process.stderr.write(`${s}\n`);
const pct = (x: number) => (100 * x).toFixed(2);
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function markdownTable(headers: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The first line of an error and the compiler's error lines, if it is a build log. */
function briefError(e: Error): string {
  const lines = e.message.split('\n');
  return [lines[0], ...lines.slice(1).filter((l) => /\berror\b/.test(l)).slice(0, 3)].join(' | ');
}

type Method = 'float' | 'qas' | 'noQas';
type Run = FineTuneResult & { memory?: EngineMemory; ticksPerStep?: number };
interface MethodResult {
  chosen: Omit<Run, 'stepLosses'> & { lossCurve: number[] };
  /** Every learning rate tried: lr, online loss of the last quarter, test accuracy after (reported, never used to choose). */
  sweep: { lr: number; finalMeanLoss: number; accuracyAfter: number }[];
}

/** Runs `run` at each lr of the grid; keeps the one with the lowest final online loss (NaN loses). */
async function sweep(grid: number[], run: (lr: number) => Promise<Run>, name: string): Promise<MethodResult> {
  let chosen: Run | undefined;
  const points: MethodResult['sweep'] = [];
  for (const lr of grid) {
    const r = await run(lr);
    log(`  ${name} lr ${lr}: online loss (last quarter) ${r.finalMeanLoss.toFixed(4)}, test accuracy ${pct(r.before.accuracy)} -> ${pct(r.after.accuracy)} % (${sec(r.ms)})`);
    points.push({ lr, finalMeanLoss: r.finalMeanLoss, accuracyAfter: r.after.accuracy });
    if (!chosen || !(chosen.finalMeanLoss <= r.finalMeanLoss)) chosen = r;
  }
  // The JSON keeps the loss curve in windows of 100 steps, not every step.
  const { stepLosses, ...rest } = chosen!;
  const lossCurve = Array.from({ length: Math.ceil(stepLosses.length / 100) }, (_, i) => finalMeanLoss(stepLosses.slice(i * 100, (i + 1) * 100), 0));
  return { chosen: { ...rest, lossCurve }, sweep: points };
}

const started = performance.now();
const scheme = parseScheme(SCHEME);
const data = transferData(config.counts, SEED);
log(`transfer: pretrain ${data.pretrain.length} digits 0-4 (test ${data.sourceTest.length}); fine-tune ${data.fineTune.length} digits 5-9 `
  + `(test ${data.targetTest.length}); scheme ${SCHEME}; seed ${SEED}${quick ? ' (quick)' : ''}`);

let t = performance.now();
const model = await pretrain(buildTransferNet(SEED), data.pretrain, {
  ...config.pretrain, seed: SEED,
  onEpoch: (e, loss) => log(`  pretrain epoch ${e + 1}/${config.pretrain.epochs}: loss ${loss.toFixed(4)} (${sec(performance.now() - t)})`),
});
const pretrainMs = performance.now() - t;
const sourceFloat = evaluateFloat(model, data.sourceTest);
const floatGraph = model.toGraph();
model.dispose();
log(`pretrained float: ${pct(sourceFloat.accuracy)} % on digits 0-4`);

// One order for every method: the same samples, in the same order, one pass.
const order = shuffled(data.fineTune, SEED + 7);
const work = path.join(tmpdir(), `mcutrain-transfer-qas-${process.pid}`);
mkdirSync(work, { recursive: true });
const results: Partial<Record<Method, MethodResult | { unavailable: string }>> = {};
let int8Source: number | undefined;
let int8TargetBefore: number | undefined;
let inferenceError: string | undefined;
try {
  const tflite = path.join(work, 'transfer_int8.tflite');
  await quantizeToFile(floatGraph, data.pretrain.slice(0, config.calibration), tflite);
  try {
    [int8Source, int8TargetBefore] = await int8InferenceAccuracy(tflite, [data.sourceTest, data.targetTest], path.join(work, 'infer'));
    log(`int8 (inference engine): ${pct(int8Source)} % on digits 0-4`);
  } catch (e) {
    inferenceError = briefError(e as Error);
    log(`int8 inference engine failed: ${inferenceError}`);
  }

  t = performance.now();
  results.float = await sweep(config.lrGrid.float, async (lr) => fineTuneFloat(floatGraph, scheme, order, data.targetTest, lr), 'float');
  {
    let n = 0;
    for (const [method, qas] of [['noQas', false], ['qas', true]] as const) {
      // The engine is young: a failing build or run is reported in the results, not fatal to the float ones.
      try {
        const engine = await openTrainingEngine(tflite, engineScheme, qas, path.join(work, `train${n++}`), patches);
        try {
          results[method] = await sweep(config.lrGrid[method], (lr) => fineTuneEngine(engine, order, data.targetTest, lr), qas ? 'int8+QAS' : 'int8 no QAS');
        } finally {
          await engine.device.close();
        }
      } catch (e) {
        results[method] = { unavailable: `engine run failed: ${briefError(e as Error)}` };
        log(`${method}: ${(results[method] as { unavailable: string }).unavailable}`);
      }
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const memory = (results.qas && 'chosen' in results.qas ? results.qas.chosen.memory : undefined);
const result = {
  date: new Date().toISOString(),
  node: process.version,
  quick,
  seed: SEED,
  scheme: SCHEME,
  grad,
  patches,
  architecture: 'conv3x3 s2 8 ReLU6 -> [dw3x3 s2 8 ReLU6, pw 16] -> [pw 32 ReLU6, dw3x3 32 ReLU6, pw 16, +ADD] -> pw 32 ReLU6 -> MEAN(H, W) -> FC 5 (NHWC 28x28x1)',
  counts: config.counts,
  pretrain: { ...config.pretrain, optimizer: 'adam', ms: Math.round(pretrainMs), floatSourceAccuracy: sourceFloat.accuracy, int8SourceAccuracy: int8Source ?? null },
  fineTune: { optimizer: 'SGD, batch 1, momentum 0, one pass, constant lr', steps: order.length, lrGrid: config.lrGrid, lrChoice: 'lowest mean online loss over the last quarter of the steps' },
  int8TargetAccuracyBefore: int8TargetBefore ?? null,
  ...(inferenceError ? { inferenceError } : {}),
  methods: results,
  memory: memory ?? { unavailable: 'needs the training engine' },
  totalMs: Math.round(performance.now() - started),
};
const out = path.resolve(import.meta.dirname, `results/transfer_qas${grad === 'f32' ? '' : `.grad-${grad}`}${quick ? '.quick' : ''}.json`);
writeFileAtomic(out, JSON.stringify(result, null, 2) + '\n');

const NAMES: Record<Method, string> = { float: '(a) float SGD (tfjs)', noQas: '(b) int8 engine, no QAS', qas: '(c) int8 engine + QAS' };
const row = (method: Method) => {
  const r = results[method];
  if (!r || !('chosen' in r)) return [NAMES[method], 'n/a', 'n/a', 'n/a', 'n/a', 'n/a'];
  const c = r.chosen;
  const acc = (s: Score) => pct(s.accuracy);
  return [NAMES[method], String(c.lr), acc(c.before), acc(c.after), c.after.loss.toFixed(4), c.finalMeanLoss.toFixed(4)];
};
console.log(`\n### Transfer 0-4 -> 5-9, scheme \`${SCHEME}\`, ${order.length} SGD steps (batch 1), engine gradients ${grad}\n`);
console.log(markdownTable(
  ['method', 'lr', `test acc before % (n=${data.targetTest.length})`, 'test acc after %', 'test loss after', 'final mean loss (online, last 25 %)'],
  (['float', 'noQas', 'qas'] as const).map(row)));
// The paper's setting: all methods at one lr, for each lr of the float grid (every grid holds it).
console.log('\n### Same lr for all methods: test accuracy after % (final mean online loss)\n');
console.log(markdownTable(['method', ...config.lrGrid.float.map((lr) => `lr ${lr}`)], (['float', 'noQas', 'qas'] as const).map((method) => {
  const r = results[method];
  return [NAMES[method], ...config.lrGrid.float.map((lr) => {
    const point = r && 'sweep' in r ? r.sweep.find((p) => p.lr === lr) : undefined;
    return point ? `${pct(point.accuracyAfter)} (${point.finalMeanLoss.toFixed(3)})` : 'n/a';
  })];
})));
const maybePct = (x: number | undefined) => (x === undefined ? 'n/a' : `${pct(x)} %`);
console.log(`\nPretrained on digits 0-4: float ${pct(sourceFloat.accuracy)} %, int8 engine ${maybePct(int8Source)} (n=${data.sourceTest.length}); `
  + `int8 on digits 5-9 before fine-tuning: ${maybePct(int8TargetBefore)}.`);
if (memory) {
  console.log('\n### Training memory (host build of the scheme)\n');
  console.log(markdownTable(['peak training SRAM (arena)', 'lower bound', 'trained params (SRAM)', 'inference arena', 'Flash (constants)'], [[
    memory.trainArenaBytes, memory.trainLowerBoundBytes, memory.paramBytes, memory.inferenceArenaBytes, memory.flashConstBytes,
  ].map((b) => `${b} B`)]));
}
for (const [method, r] of Object.entries(results)) if (r && 'unavailable' in r) console.log(`\n${NAMES[method as Method]}: ${r.unavailable}`);
console.log(`\ntotal ${sec(performance.now() - started)}\nwritten ${path.relative(process.cwd(), out)}`);
