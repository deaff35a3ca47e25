/**
 * The case of issue 13 item 9: TRAIN_STEPs with a 27 KB sample (vww96_int8, 96x96x3) on a host build
 * over a line that damages bytes at 1e-4 and 1e-3 (test/link/lossy_transport.ts), each step's loss and
 * the learned bytes at the end compared with a clean run of the same steps. Prints the figures and
 * writes them to experiments/results/link_large_sample.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildProject } from '../src/build/build_project.ts';
import { Device } from '../src/link/device.ts';
import { HostTransport } from '../src/link/host_transport.ts';
import { compileModel } from '../src/project/compile_project.ts';
import { writeFileAtomic } from '../src/util/fs_atomic.ts';
import { seededUniform } from '../src/util/random.ts';
import { LossyTransport } from '../test/link/lossy_transport.ts';

const STEPS = 50;
const MODEL = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'shared', 'models', 'vww96_int8.tflite');
const OUT = path.join(path.dirname(new URL(import.meta.url).pathname), 'results', 'link_large_sample.json');

const dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-large-sample-'));
try {
  const { manifest } = compileModel({ modelPath: MODEL, target: 'host', outDir: dir, train: { scheme: 'bias:last=3', lr: 0.01 } });
  buildProject(dir, {});
  const engine = path.join(dir, 'engine');
  const r = seededUniform(5);
  const samples = Array.from({ length: STEPS }, () => ({
    x: Uint8Array.from({ length: manifest.inputs[0].bytes }, () => Math.floor(r() * 256)), label: Math.floor(r() * 2),
  }));
  const run = async (rate: number) => {
    const host = await HostTransport.start(engine);
    const line = rate > 0 ? new LossyTransport(host, rate, 9) : undefined;
    const device = new Device(line ?? host, { timeoutMs: 400, rounds: 4, backoffMs: 100 });
    const losses: (number | string)[] = [];
    const started = Date.now();
    for (const s of samples) {
      try {
        losses.push((await device.trainStep(s.x, s.label)).loss);
      } catch (e) {
        losses.push((e as Error).message);
        break;
      }
    }
    const params = await device.readParams('params', { rounds: 8 }).catch(() => undefined);
    await device.close();
    return { rate, losses, params, seconds: (Date.now() - started) / 1000, line: line?.counts, stats: device.stats };
  };
  const clean = await run(0);
  const results = [];
  for (const rate of [1e-4, 1e-3]) {
    const lossy = await run(rate);
    const sameLosses = lossy.losses.filter((l, i) => l === clean.losses[i]).length;
    const failed = lossy.losses.filter((l) => typeof l === 'string').length;
    const sameParams = lossy.params !== undefined && lossy.params.every((b, i) => b === clean.params![i]);
    results.push({ rate, sampleBytes: manifest.inputs[0].bytes, steps: STEPS, stepsWithCleanLoss: sameLosses, failed, learnedBytesEqualClean: sameParams,
      seconds: lossy.seconds, line: lossy.line, link: lossy.stats });
    console.log(`rate ${rate}: ${sameLosses}/${STEPS} steps with the clean run's loss, ${failed} failed, learned bytes = clean: ${sameParams}, ${lossy.seconds.toFixed(0)} s`);
  }
  writeFileAtomic(OUT, `${JSON.stringify({ cleanSeconds: clean.seconds, results }, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
