/**
 * `mcutrain eval` on an inference-only engine whose model ends with SOFTMAX (TFLite Micro's
 * micro_speech, host build): the prediction is the top output and the loss -ln p of the label's
 * dequantized probability (an int8 0 read as half a step), checked against the engine's own outputs.
 * (The logits case and the training engine's EVALUATE: test/demo/pretrained_model.test.ts.)
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { buildProjectAsync } from '../../src/build/build_project.ts';
import type { EvalReport } from '../../src/cli/eval_command.ts';
import { encodeNpy } from '../../src/data/npy.ts';
import { openProjectDevice } from '../../src/link/connect.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { cliAsync } from '../helpers/cli.ts';
import { model, tempDir } from '../helpers/paths.ts';
import { seededUniform } from '../../src/util/random.ts';

const root = tempDir('eval-softmax');
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('eval scores a SOFTMAX output as probabilities, and warns about named class folders that may be shifted', async () => {
  const project = path.join(root, 'micro_speech');
  const { manifest } = compileModel({ modelPath: model('micro_speech_int8.tflite'), target: 'host', outDir: project });
  await buildProjectAsync(project);
  const output = manifest.outputs[0];
  expect([output.scale, output.zeroPoint]).toEqual([1 / 256, -128]);

  // Two random spectrograms per class folder 0-3 (labels 0-3).
  const next = seededUniform(7);
  const samples: { data: Uint8Array; label: number }[] = [];
  for (let label = 0; label < 4; label++) {
    mkdirSync(path.join(root, 'data', String(label)), { recursive: true });
    for (let k = 0; k < 2; k++) {
      const data = Uint8Array.from({ length: 1960 }, () => Math.floor(next() * 256));
      writeFileSync(path.join(root, 'data', String(label), `${k}.npy`), encodeNpy('int8', [1, 1960], data));
      samples.push({ data, label });
    }
  }

  const device = await openProjectDevice(project, manifest, { timeoutMs: 30_000 });
  let loss = 0;
  let correct = 0;
  const predicted: number[] = [];
  try {
    for (const s of samples) {
      const q = Array.from(new Int8Array((await device.infer(s.data)).buffer));
      const p = q.map((v) => (v + 128) / 256);
      loss += -Math.log(Math.max(p[s.label], 1 / 512));
      predicted.push(q.indexOf(Math.max(...q)));
      if (predicted.at(-1) === s.label) correct++;
    }
  } finally {
    await device.close();
  }

  const r = await cliAsync('eval', project, '--data', path.join(root, 'data'), '--json');
  expect(r.code, r.err).toBe(0);
  const report = JSON.parse(r.out) as EvalReport;
  expect(report.engine).toBe('inference');
  expect([report.samples, report.correct]).toEqual([8, correct]);
  expect(report.loss).toBeCloseTo(loss / samples.length, 12);

  // Named class folders for fewer classes than the model has: labelled 0.. in sorted order, which shifts
  // the labels if a class in between is missing, so eval says so.
  mkdirSync(path.join(root, 'named', 'yes'), { recursive: true });
  writeFileSync(path.join(root, 'named', 'yes', 'a.npy'), encodeNpy('int8', [1, 1960], samples[0].data));
  const named = await cliAsync('eval', project, '--data', path.join(root, 'named'));
  expect(named.code).toBe(0);
  expect(named.err).toMatch(/warning: '.*named' has 1 named class folders for a model of 4 classes: they are labels 0 to 0 \(yes\); if a class of the training data is missing/);
  // samples[0] is labelled 0 here too.
  const hit = predicted[0] === 0 ? 1 : 0;
  expect(named.out).toMatch(new RegExp(`^yes\\s+1\\s+${hit}\\s+${hit ? '100.0' : '0.0'}%$`, 'm'));
  expect(named.out).toMatch(new RegExp(`^accuracy ${hit ? '100.0' : '0.0'}% \\(${hit} of 1\\), loss \\d+\\.\\d{4} \\(mean softmax cross-entropy\\)$`, 'm'));
});
