/**
 * The integer-only engine at compile time (`arith=int`, src/train/integer_arith.ts): the scheme's and
 * the option's `arith` and its default by target, the refusals, the rewritten calls and their fixed-point
 * constants against the float lowering's, and the engine's float boundary (lr in, loss out) in C.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { McutrainError } from '../../src/errors.ts';
import { main } from '../../src/cli/cli.ts';
import type { KernelCall } from '../../src/lower/kernel_call.ts';
import { quantizeMultiplier } from '../../src/lower/quant_params.ts';
import { resolveScheme } from '../../src/project/compile_project.ts';
import { analyzeModel } from '../../src/pipeline/pipeline.ts';
import { loadTarget } from '../../src/targets/target.ts';
import { fixedFactors, fixedScales, integerKernelName } from '../../src/train/integer_arith.ts';
import { parseScheme, schemeToJson, schemeToString } from '../../src/train/scheme.ts';
import { buildKernelHarness } from '../kernels/c_harness.ts';
import { model } from '../helpers/paths.ts';
import { seededUniform } from '../../src/util/random.ts';

describe('the scheme\'s arithmetic', () => {
  it('reads arith=int|float inline and in JSON; int implies int16 gradients and is written back', () => {
    const s = parseScheme('bias:last=2,arith=int,lr=0.1');
    expect([s.arith, s.grad]).toEqual(['int', 'i16']);
    expect(schemeToString(s)).toBe('bias:last=2,qas=on,lr=0.1,grad=i16,arith=int');
    expect(parseScheme(schemeToString(s))).toEqual(s);
    expect(parseScheme(schemeToJson(s))).toEqual(s);
    expect(parseScheme('{"bias": {"last": 1}, "arith": "int", "grad": "i8"}')).toMatchObject({ arith: 'int', grad: 'i8' });
    // float, the engine as it was, is written nowhere (as f32 gradients are not)
    expect(schemeToString(parseScheme('bias:last=2,arith=float'))).toBe('bias:last=2,qas=on,lr=0.05');
  });

  it('defaults to int on cores without an FPU, float elsewhere; the option and the scheme override it', () => {
    const arith = (target: string, train: Parameters<typeof resolveScheme>[0] = { scheme: 'bias:last=1' }) => resolveScheme(train, loadTarget(target)).arith;
    expect(['mps2-an385', 'rp2040-pico', 'mps2-an500', 'nrf52840-dk', 'host'].map((t) => arith(t))).toEqual(['int', 'int', 'float', 'float', 'float']);
    expect(arith('mps2-an385', { scheme: 'bias:last=1', arith: 'float' })).toBe('float');
    expect(arith('mps2-an385', { scheme: 'bias:last=1,arith=float' })).toBe('float');
    expect(arith('host', { scheme: 'bias:last=1', arith: 'int' })).toBe('int');
    expect(resolveScheme({ scheme: 'bias:last=1' }).arith).toBeUndefined(); // no target: the scheme's own
  });

  it.each([
    [{ scheme: 'bias:last=1,arith=int', grad: 'f32' as const }, /arith=int\) stores gradients as int16 or int8, not float32/],
    [{ scheme: 'bias:last=1,arith=int,momentum=0.9' }, /arith=int\) has no momentum \(the scheme asks for momentum 0.9\)/],
    [{ scheme: 'bias:last=1,momentum=0.9' }, /has no momentum/], // on an M3, where int is the default
  ])('refuses %j clearly', (train, message) => {
    const resolve = () => resolveScheme(train, loadTarget('mps2-an385'));
    expect(resolve).toThrow(McutrainError);
    expect(resolve).toThrow(message);
    try { resolve(); } catch (e) { expect((e as McutrainError).hint).toMatch(/--arith float/); }
  });

  it('refuses a bad --arith, and --arith without a scheme', async () => {
    await expect(main(['plan', 'x.tflite', '--train', 'bias:last=1', '--arith', 'fixed'])).rejects.toThrow(/--arith must be one of float, int, not 'fixed'/);
    await expect(main(['compile', 'x.tflite', '-o', '/nonexistent', '--arith', 'int'])).rejects.toThrow(/--arith and --grad need a training scheme/);
  });

  it('names the integer kernel of each narrow one', () => {
    expect(integerKernelName('mt_softmax_xent_s8_grad_s16', 'i16')).toBe('mt_softmax_xent_s8_grad_i16');
    expect(integerKernelName('mt_conv_grad_input_split_s8', 'i8')).toBe('mt_conv_grad_input_split_i8');
    expect(integerKernelName('mt_bias_update_s32_g16', 'i16')).toBe('mt_bias_update_s32_i16');
    expect(integerKernelName('mt_fully_connected_update_weights_s8_g8', 'i8')).toBe('mt_fully_connected_update_weights_s8_i8');
    expect(integerKernelName('mt_clamp_mask_projected_s16', 'i16')).toBe('mt_clamp_mask_projected_s16');
    expect(() => integerKernelName('mt_conv_grad_input_f32', 'i16')).toThrow(/no integer-only form/);
  });
});

describe('vww96_int8 lowered for the integer-only engine', () => {
  const bytes = new Uint8Array(readFileSync(model('vww96_int8.tflite')));
  const SCHEME = 'weights:layers=-1,-6@1/4,bias:last=8';
  const analyze = (arith: 'int' | 'float') => analyzeModel(bytes, 'vww96_int8.tflite', 'tflm', resolveScheme({ scheme: SCHEME, grad: 'i16', arith }), { patches: 'off' }).training!;
  const int = analyze('int');
  const narrow = analyze('float');
  const consts = (c: KernelCall, name: string) => Array.from(c.consts.find((x) => x.name === name)!.values);

  it('calls integer kernels (masks as they are) with the narrow storage\'s plan', () => {
    const fns = [int.lossCall, ...int.backwardCalls].map((c) => c.fn!);
    expect(fns.filter((f) => !/_i16$/.test(f) && !/^mt_(clamp_mask\w*|mask_apply)_s16$/.test(f))).toEqual([]);
    expect(fns.map((f) => f.replace(/_[is]16$/, ''))).toEqual([narrow.lossCall, ...narrow.backwardCalls].map((c) => c.fn!.replace(/_[sg]16$/, '')));
    expect(int.lossCall.fn).toBe('mt_softmax_xent_s8_grad_i16');
    // the same gradient tensors, exponents and buffers: the arena is the narrow storage's, to the byte
    expect([int.gradExponents, int.plan.arenaBytes, int.paramBytes]).toEqual([narrow.gradExponents, narrow.plan.arenaBytes, narrow.paramBytes]);
    expect(int.plan.arenaBytes).toBe(55_296); // the whole forward pass (patches off)
  });

  it('holds the float lowering\'s scales and factors in fixed point', () => {
    let scales = 0, factors = 0;
    narrow.backwardCalls.forEach((f, i) => {
      const c = int.backwardCalls[i];
      if (f.consts.some((x) => x.name === 'filter_scale')) {
        const want = fixedScales(consts(f, 'filter_scale'));
        expect(consts(c, 'filter_scale_q')).toEqual(want.q);
        expect(c.structs.find((s) => s.name === 'filter_scale')!.fields).toEqual({ q: { const: 'filter_scale_q' }, exp: want.exp });
        expect(Math.max(...want.q)).toBeGreaterThanOrEqual(2 ** 23); // the largest keeps 24 bits
        scales++;
      }
      if (f.consts.some((x) => x.name === 'grad_factor')) {
        // an update's float input scale (weights; biases have it in grad_factor already) goes into its factors
        const inputScale = f.args.find((a) => a.kind === 'float');
        const want = fixedFactors(consts(f, 'grad_factor').map((g) => g * (inputScale?.kind === 'float' ? inputScale.value : 1)));
        expect([consts(c, 'factor_multiplier'), consts(c, 'factor_shift')]).toEqual([want.multiplier, want.shift]);
        expect(c.args.some((a) => a.kind === 'float' || a.kind === 'momentum')).toBe(false);
        factors++;
      }
    });
    expect([scales, factors]).toEqual([int.backwardCalls.filter((c) => /grad_input/.test(c.fn!) && !/pool|mean|pad/.test(c.fn!)).length, 10]);
  });
});

describe('the integer engine\'s float boundary in C', () => {
  const harness = buildKernelHarness('int_engine', ['grad_int_engine']);
  afterAll(() => harness.cleanup());
  const bits = (f: number) => new Uint32Array(Float32Array.of(f).buffer)[0];

  it('reads a float learning rate as quantizeMultiplier does, with integer operations', () => {
    const u = seededUniform(12);
    const rates = [0.05, 0.005, 0.0002, 1, 3.5, 2 ** -32, 2 ** -33, 1e-40, 0, 1e30, ...Array.from({ length: 200 }, () => 10 ** (-8 + 9 * u()))];
    const got = harness.runNumbers([], rates.map((r) => `lr ${bits(r)}`).join('\n'));
    const want = rates.flatMap((r) => { const q = quantizeMultiplier(Math.fround(r)); return [q.multiplier, q.shift]; });
    expect(got).toEqual(want);
  });

  it('reports the Q16 loss as the float it stands for', () => {
    const u = seededUniform(13);
    const losses = [0, 1, -1, 65536, -65536, 2 ** 31 - 1, -(2 ** 31), 16777217, 33554435, ...Array.from({ length: 200 }, () => Math.round((u() - 0.2) * 2 ** (1 + 30 * u())) || 0)];
    const got = harness.runNumbers([], losses.map((q) => `loss ${q}`).join('\n'));
    expect(got).toEqual(losses.map((q) => bits(q / 65536)));
  });
});
