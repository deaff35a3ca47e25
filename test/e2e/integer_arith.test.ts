/**
 * The integer-only engine end to end (`arith=int`, issue 12; train_int.h): vww96_int8 with a small
 * sparse scheme (classifier half, a quarter of layer -6's output channels, the biases of the last 8
 * layers: conv, depthwise and FC updates, in-place depthwise input gradients, split weights) compiled
 * for the host (ASan/UBSan), the emulated Cortex-M3 (mps2-an385, where int is the default) and the
 * RP2040 (link only):
 * - the images hold no soft-float routine (the float engine's M3 image does), and plan the SRAM they link;
 * - host and M3 train to the same losses and learned bytes, the loss going down on the two reference images;
 * - each trained tensor's update against float autodiff (the oracle): one step whose largest move is
 *   32 int8 steps (biases: 65,536 int32 steps), read back as the gradient it stands for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { buildProjectAsync, linkedSramBytes } from '../../src/build/build_project.ts';
import { readInputFile } from '../../src/data/input_file.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import type { Device } from '../../src/link/device.ts';
import { compileModel, type CompileResult, type TrainOptions } from '../../src/project/compile_project.ts';
import { readManifest, type TrainParamInfo } from '../../src/project/manifest.ts';
import { loadTarget } from '../../src/targets/target.ts';
import { cosineSimilarity, floatGradients } from '../oracle/float_gradients.ts';
import { model, tempDir } from '../helpers/paths.ts';
import { realGradient, trainedPart } from '../helpers/trained_gradients.ts';
import { SOFT_FLOAT } from '../helpers/soft_float.ts';
import { openBuilt, TEST_BUDGET_MS, type Built } from '../helpers/training_builds.ts';

const work = tempDir('integer-arith');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const VWW = 'vww96_int8.tflite';
const TRAIN: TrainOptions = { scheme: 'weights:layers=-1,-6@1/4,bias:last=8', lr: 0.02 };
/** Five builds, two and three at a time. */
const BUILD_BUDGET_MS = 25 * 60_000;

interface Build extends Built { compiled: CompileResult; artifact: string }
const built = new Map<string, Build>();

async function build(name: string, target: string, train: TrainOptions, sanitized = false): Promise<void> {
  const dir = path.join(work, name);
  const compiled = compileModel({ modelPath: model(VWW), target, outDir: dir, train });
  const { artifact } = await buildProjectAsync(dir, { sanitize: sanitized });
  built.set(name, { dir, manifest: readManifest(dir), sanitized, compiled, artifact });
}

beforeAll(async () => {
  await Promise.all([build('host', 'host', { ...TRAIN, arith: 'int' }, true), build('an385', 'mps2-an385', TRAIN)]);
  await Promise.all([build('pico', 'rp2040-pico', TRAIN), build('an385-float', 'mps2-an385', { ...TRAIN, arith: 'float' }),
    build('host-float', 'host', { ...TRAIN, arith: 'float' })]);
}, BUILD_BUDGET_MS);

/** The soft-float routines an image defines. */
function softFloatSymbols(elf: string): string[] {
  const names = execFileSync('arm-none-eabi-nm', ['-g', '--defined-only', elf], { encoding: 'utf8' }).split('\n').map((l) => l.trim().split(/\s+/).pop() ?? '');
  return names.filter((n) => SOFT_FLOAT.test(n));
}

describe('the integer-only engine on vww96_int8', () => {
  it('is the default where the core has no FPU, and is recorded in the manifest', () => {
    for (const name of ['host', 'an385', 'pico']) {
      const t = built.get(name)!.manifest.training!;
      expect([name, t.arith, t.grad]).toEqual([name, 'int', 'i16']);
      expect(t.scheme).toContain('grad=i16,arith=int');
    }
    expect(built.get('an385-float')!.manifest.training!.arith).toBe('float');
    const c = readFileSync(path.join(built.get('host')!.dir, 'model.c'), 'utf8');
    // every backward call integer-only: no float32-gradient or narrow (float-sum) kernel, masks (integer code already) aside
    expect((c.match(/\bmt_\w+_(f32|s16|g16)\(/g) ?? []).filter((f) => !/^mt_(clamp_mask|mask_apply)/.test(f))).toEqual([]);
    expect(c).toMatch(/mt_conv_update_weights_s8_i16\(/);
    expect(c.match(/^\s+mt_depthwise_conv_grad_input_inplace_\w+\(/gm)?.map((x) => x.trim())).toEqual(Array(2).fill('mt_depthwise_conv_grad_input_inplace_i16('));
  });

  it('links no soft-float routine on the Cortex-M3 and the Cortex-M0+ (the float engine does)', () => {
    const float = softFloatSymbols(built.get('an385-float')!.artifact);
    console.log(`soft-float routines: integer M3 ${softFloatSymbols(built.get('an385')!.artifact).length}, integer M0+ ${softFloatSymbols(built.get('pico')!.artifact).length}, float M3 ${float.length} (${float.join(' ')})`);
    expect(float.length).toBeGreaterThan(0); // the check sees them where they are
    expect(softFloatSymbols(built.get('an385')!.artifact)).toEqual([]);
    expect(softFloatSymbols(built.get('pico')!.artifact)).toEqual([]);
  });

  it('plans the SRAM it links, and no more than the float engine for the same scheme', () => {
    const sram = (name: string) => {
      const b = built.get(name)!;
      return { planned: b.compiled.fit.sram.totalBytes, linked: linkedSramBytes(b.artifact, loadTarget(b.compiled.manifest.target)), arena: b.compiled.fit.sram.arenaBytes };
    };
    const [int, float, pico] = ['an385', 'an385-float', 'pico'].map(sram);
    console.log(`SRAM on mps2-an385: integer planned ${int.planned} B (arena ${int.arena}), linked ${int.linked} B; float planned ${float.planned} B (arena ${float.arena}), linked ${float.linked} B; rp2040 integer planned ${pico.planned} B, linked ${pico.linked} B`);
    for (const m of [int, float, pico]) expect(m.planned).toBeGreaterThanOrEqual(m.linked);
    expect(int.linked).toBeLessThanOrEqual(float.linked);
  });

  it('learns the same bytes on the host and the emulated Cortex-M3, the loss going down', async () => {
    const images = ['person.bmp', 'no_person.bmp'].map((f) => readInputFile(model(f), built.get('host')!.manifest.inputs, 'bytes'));
    const labels = [1, 0];
    const run = async (name: string) => {
      const d: Device = await openBuilt(built.get(name)!);
      try {
        const before = await Promise.all(images.map((x, i) => d.evaluate(x, labels[i])));
        const losses: number[] = [];
        const ticks: number[] = [];
        for (let epoch = 0; epoch < 4; epoch++) {
          for (let i = 0; i < images.length; i++) {
            const r = await d.trainStep(images[i], labels[i]);
            losses.push(r.loss);
            ticks.push(r.ticks);
          }
        }
        const after = await Promise.all(images.map((x, i) => d.evaluate(x, labels[i])));
        return { before: before.map((r) => r.loss), losses, ticks, evalTicks: before.map((r) => r.ticks), after: after.map((r) => r.loss), params: Array.from(await d.readParams('params')) };
      } finally {
        await d.close();
      }
    };
    const h = await run('host');
    const b = await run('an385');
    const f = await run('an385-float');
    const sum = (v: number[]) => v.reduce((s, x) => s + x, 0);
    // instructions per training step on the emulated M3 (QEMU -icount: ticks count instructions), against the float engine built soft-float
    // (the backward pass and updates: a step less an EVALUATE of the same images, forward and loss only)
    const mean = (v: number[]) => Math.round(sum(v) / v.length);
    const steps = [b, f].map((r) => ({ step: mean(r.ticks), backward: mean(r.ticks) - mean(r.evalTicks) }));
    console.log(`mps2-an385 instructions per training step: integer ${steps[0].step.toLocaleString('en-US')} (backward and updates ${steps[0].backward.toLocaleString('en-US')}), ` +
      `float ${steps[1].step.toLocaleString('en-US')} (backward and updates ${steps[1].backward.toLocaleString('en-US')}): ${(steps[1].backward / steps[0].backward).toFixed(1)}x fewer in the backward pass; ` +
      `float engine loss after ${f.after.map((x) => x.toFixed(4)).join(', ')}`);
    console.log(`integer engine: loss before ${h.before.map((x) => x.toFixed(4)).join(', ')}, steps ${h.losses.map((x) => x.toFixed(4)).join(' ')}, after ${h.after.map((x) => x.toFixed(4)).join(', ')}`);
    expect(sum(h.after)).toBeLessThan(sum(h.before));
    expect(b.losses).toEqual(h.losses);
    expect(b.after).toEqual(h.after);
    expect(b.params).toEqual(h.params);
  }, TEST_BUDGET_MS);
});

/**
 * Largest move of a tensor in the gradient check, in its parameter's steps: for int8 weights far above
 * the rounding's one step and below most weights' distance to the clamp; int32 biases move far more.
 */
const MOVE = { int8: 32, int32: 65536 };

/** The trained elements of p in params (int8 weights, int32 little-endian biases). */
function elements(p: TrainParamInfo, params: Uint8Array): number[] {
  const bytes = params.subarray(p.offset, p.offset + p.bytes);
  if (p.dtype === 'int8') return Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return Array.from({ length: bytes.length / 4 }, (_, i) => view.getInt32(4 * i, true));
}

/** The move of p's elements in one step of engine `name` on (x, label) at rate lr: parameter steps, before minus after. */
async function moves(name: string, p: TrainParamInfo, x: Uint8Array, label: number, lr: number): Promise<{ before: number[]; step: number[] }> {
  const d = await openBuilt(built.get(name)!);
  try {
    await d.setHyper(lr, 0);
    const before = elements(p, await d.readParams('params'));
    await d.trainStep(x, label);
    const after = elements(p, await d.readParams('params'));
    return { before, step: before.map((v, i) => v - after[i]) };
  } finally {
    await d.close();
  }
}

describe('the integer-only engine\'s gradients against float autodiff', () => {
  it('moves each trained tensor along the oracle\'s gradient, as the float engine does', async () => {
    const t = built.get('host')!.manifest.training!;
    const graph = importTflite(new Uint8Array(readFileSync(model(VWW))), VWW);
    const logits = graph.tensors.find((x) => x.name === t.logits)!;
    const images = ['person.bmp', 'no_person.bmp'].map((f) => readInputFile(model(f), built.get('host')!.manifest.inputs, 'bytes'));
    const worst = { int: 1, float: 1, intVsFloat: 1 };
    const belowFloat: string[] = [];
    for (const [k, label] of [1, 0].entries()) {
      const x = images[k];
      const oracle = await floatGradients(graph, logits.id, t.params.map((p) => ({ tensor: p.tensor })), new Int8Array(x.buffer, x.byteOffset, x.length), label);
      for (const p of t.params) {
        const op = graph.operators[p.op];
        const count = p.dtype === 'int8' ? p.bytes : p.bytes / 4;
        const weightScales = graph.tensors[op.inputs[1]].quant!.scale, inputScale = graph.tensors[op.inputs[0]].quant!.scale[0];
        const want = trainedPart({ ...p, momentumFloats: count }, oracle.grads.get(p.tensor)!, op.kind);
        // the oracle's gradient in the engines' (QAS) units, to choose the rate that moves the tensor by MOVE at most
        const unit = realGradient(p, Float32Array.from(want, () => 1), weightScales, inputScale, op.kind);
        const lr = MOVE[p.dtype] / Math.max(...Array.from(want, (g, i) => Math.abs(g / unit[i])));
        const [int, float] = await Promise.all(['host', 'host-float'].map((name) => moves(name, p, x, label, lr)));
        // the real gradient each move stands for (step = lr * g in the parameter's units); weights that reached the clamp left out
        const free = int.before.map((w, i) => p.dtype !== 'int8' || (Math.abs(w - int.step[i]) < 127 && Math.abs(w - float.step[i]) < 127));
        const gradient = (m: { step: number[] }) => realGradient(p, Float32Array.from(m.step, (v) => v / Math.fround(lr)), weightScales, inputScale, op.kind).filter((_, i) => free[i]);
        const [gi, gf] = [gradient(int), gradient(float)];
        const cos = { int: cosineSimilarity(gi, want.filter((_, i) => free[i])), float: cosineSimilarity(gf, want.filter((_, i) => free[i])), intVsFloat: cosineSimilarity(gi, gf) };
        console.log(`label ${label} ${p.kind} of layer ${p.layer} (${op.kind}, ${count} trained, ${free.filter((f) => !f).length} at the clamp): ` +
          `cosine to the oracle: integer ${cos.int.toFixed(5)}, float ${cos.float.toFixed(5)}; integer to float ${cos.intVsFloat.toFixed(5)}`);
        for (const key of ['int', 'float', 'intVsFloat'] as const) worst[key] = Math.min(worst[key], cos[key]);
        if (cos.int < Math.min(0.99, cos.float - 0.02)) belowFloat.push(`label ${label} ${p.kind} of layer ${p.layer}: ${cos.int} (float ${cos.float})`);
      }
    }
    console.log(`worst cosines: ${JSON.stringify(worst)}`);
    // cosine >= 0.99 to the oracle, except where the float engine is below it too (its int8 forward
    // pass parts from the float one: the deep biases, 0.90 for both): there the integer engine within
    // 0.02 of it. Measured: every bias within 2e-5 of the float engine's cosine (1.00000 to it); the
    // weights of layer 22 (-6, a quarter of its channels) 0.98075 against the float engine's 0.99799 on
    // no_person.bmp (0.98732 to it): its trained channels carry gradients far below the tensor's
    // largest, which one int16 exponent keeps in few bits (0.9979 to float32 storage in
    // narrow_gradients.test.ts), and one stochastically rounded step of at most 32 reads them back noisily.
    expect(belowFloat).toEqual([]);
    expect(worst.intVsFloat).toBeGreaterThanOrEqual(0.985);
  }, TEST_BUDGET_MS);
});
