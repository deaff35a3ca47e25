/**
 * 1-bit clamp masks (src/train/clamp_masks.ts): the forward pass packs the mask of each clamped output
 * the backward pass needs, the backward pass reads only the bits, so the planner frees the int8 output
 * once no forward operator or weight update reads it. Exact figures on vww96 and on the workload
 * (MCUNet-5FPS, TinyEngine's 49 KB scheme); the generated C packs in the training step only.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importTflite } from '../../src/import/import_tflite.ts';
import { elementCount } from '../../src/ir/graph.ts';
import { lowerGraph } from '../../src/lower/lower.ts';
import { writeTflite } from '../../src/export/write_tflite.ts';
import { analyzeModel, buildSram } from '../../src/pipeline/pipeline.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { loadTarget } from '../../src/targets/target.ts';
import { analyzeTraining, type TrainingAnalysis } from '../../src/train/analyze_training.ts';
import { parseScheme } from '../../src/train/scheme.ts';
import { buildZooModel } from '../../src/zoo/zoo.ts';
import { model, tempDir } from '../helpers/paths.ts';

const VWW = model('vww96_int8.tflite');
const graph = importTflite(new Uint8Array(readFileSync(VWW)), 'vww96_int8.tflite');
const calls = lowerGraph(graph);
const PACK = 'mt_clamp_mask_pack_s8';

/** The masks of a training analysis: each plain mask with its bits tensor, pack call step and apply call. */
function masksOf(t: TrainingAnalysis) {
  return t.backwardOps.flatMap((b) => (b.kind === 'mask' ? [b] : [])).map((b) => ({
    b,
    pack: t.forwardCalls.findIndex((c) => c.fn === PACK && c.op === b.op.id),
    producer: t.forwardCalls.map((c) => c.fn !== PACK && c.op === b.op.id).lastIndexOf(true),
  }));
}

describe('1-bit clamp masks', () => {
  const t = analyzeTraining(graph, calls, parseScheme('bias:last=6,weights:layers=-1,-3@1/2'));

  it('packs each plain mask right after its operator, into a uint8 tensor of ceil(n/8) bytes', () => {
    const masks = masksOf(t);
    expect(masks.map((m) => m.b.op.kind)).toEqual(['FULLY_CONNECTED', 'AVERAGE_POOL_2D', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'CONV_2D']);
    for (const { b, pack, producer } of masks) {
      const out = t.graph.tensors[b.output];
      if (b.projected) {
        // The logits keep the projected mask on the int8 values, and nothing is packed for them.
        expect(b.output).toBe(t.tg.logits.id);
        expect([b.bits, pack]).toEqual([undefined, -1]);
        continue;
      }
      const bits = t.graph.tensors[b.bits!];
      expect([bits.name, bits.dtype, bits.shape]).toEqual([`mask:${out.name}`, 'uint8', [Math.ceil(elementCount(out.shape) / 8)]]);
      expect(pack).toBe(producer + 1);
      expect(t.forwardCalls[pack].tensors).toEqual({ inputs: [b.output], outputs: [b.bits] });
    }
    expect(t.forwardCalls.filter((c) => c.fn === PACK)).toHaveLength(masks.length - 1);
  });

  it('applies the bits in the backward pass, which reads no masked int8 output but a weight update\'s input', () => {
    const masked = new Set(masksOf(t).filter((m) => !m.b.projected).map((m) => m.b.output));
    const applies = t.backwardCalls.filter((c) => c.fn === 'mt_mask_apply_f32');
    expect(applies).toHaveLength(masked.size);
    const updateInputs = new Set(t.backwardOps.flatMap((b) => (b.kind === 'update_weights' ? [b.input] : [])));
    const backwardReads = t.backwardCalls.flatMap((c) => c.tensors?.inputs ?? []).filter((id) => masked.has(id));
    expect(backwardReads.every((id) => updateInputs.has(id))).toBe(true);
    // So the planner frees the rest in the forward pass: their buffers end before the loss.
    const lossStep = t.forwardCalls.length;
    const freed = [...masked].filter((id) => !updateInputs.has(id) && !t.graph.operators.some((op) => op.kind === 'RESHAPE' && op.inputs[0] === id));
    expect(freed.length).toBeGreaterThan(2);
    for (const id of freed) expect(t.plan.buffers.find((buf) => buf.tensors.includes(id))!.lastStep).toBeLessThan(lossStep);
  });

  it('gives the no-reorder planning schedule the same masks', () => {
    const c = analyzeTraining(graph, calls, parseScheme('bias:last=6,weights:layers=-1,-3@1/2'), { reorder: false });
    const names = (a: TrainingAnalysis) => a.graph.tensors.filter((x) => x.name.startsWith('mask:')).map((x) => x.name);
    expect(names(c)).toEqual(names(t));
    expect(c.forwardCalls.map((x) => [x.op, x.fn])).toEqual(t.forwardCalls.map((x) => [x.op, x.fn]));
  });

  it('plans the issue\'s workload (MCUNet-5FPS, TinyEngine\'s 49 KB scheme) in a 123,008 B arena', async () => {
    const bytes = writeTflite(await buildZooModel('mcunet-5fps', { int8: true, calibrationSamples: 1 }));
    const scheme = parseScheme('bias:last=21,weights:layers=24@1/4,27,30@1/2,42');
    const a = analyzeModel(bytes, 'mc5', 'tflm', scheme, { inPlace: false }); // masks alone (in place: narrow_gradients.test.ts)
    // Before 1-bit masks: 203,008 B (int8 outputs kept whole as masks), 316,412 B of SRAM on mps2-an500.
    expect([a.training!.plan.arenaBytes, a.training!.plan.lowerBoundBytes]).toEqual([123_008, 123_008]);
    // 176,551 B with partly trained tensors whole in SRAM (47,656 B of them; split: 32,104 B).
    expect(buildSram(a, loadTarget('mps2-an500')).totalBytes).toBe(160_999);
    // The conventional order plans with the same masks (before: 223,152 B, lower bound 212,400 B).
    const c = analyzeModel(bytes, 'mc5', 'tflm', scheme, { reorder: false });
    expect([c.training!.plan.arenaBytes, c.training!.plan.lowerBoundBytes]).toEqual([184_816, 167_920]);
  }, 120_000);

  it('emits the pack calls in the training step, not in inference', () => {
    const dir = tempDir('masks');
    const scheme = 'bias:last=6,weights:layers=-1,-3@1/2';
    const r = compileModel({ modelPath: VWW, target: 'host', outDir: dir, train: { scheme } });
    const c = readFileSync(path.join(dir, 'model.c'), 'utf8');
    const inference = c.slice(c.indexOf('void mt_model_invoke('), c.indexOf('\n}\n', c.indexOf('void mt_model_invoke(')));
    const train = c.slice(c.indexOf('static void mt_train_run('), c.indexOf('\n}\n', c.indexOf('static void mt_train_run(')));
    const count = (text: string, fn: string) => text.split(`${fn}(`).length - 1;
    const packs = r.analysis.training!.forwardCalls.filter((x) => x.fn === PACK).length;
    expect(packs).toBeGreaterThan(2);
    expect([count(inference, PACK), count(train, PACK), count(c, PACK)]).toEqual([0, packs, packs]);
    expect(count(train, `if (update) ${PACK}`)).toBe(packs); // EVALUATE (no update) packs nothing
    expect(count(train, 'mt_mask_apply_f32')).toBe(packs);
    expect(count(c, 'mt_clamp_mask_f32')).toBe(0);
  });
});
