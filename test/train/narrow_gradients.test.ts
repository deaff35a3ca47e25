/**
 * Narrow gradient storage at compile time: the scheme's `grad` (inline, JSON, --grad), the gradient
 * tensors' types and the exponent table of the rewritten calls, and the training arena of the
 * issue's workload (MCUNet-5FPS, TinyEngine's 49 KB scheme) with each storage, pinned exactly.
 */
import { describe, expect, it } from 'vitest';
import { writeTflite } from '../../src/export/write_tflite.ts';
import { McutrainError } from '../../src/errors.ts';
import { analyzeModel } from '../../src/pipeline/pipeline.ts';
import { resolveScheme } from '../../src/project/compile_project.ts';
import { parseScheme, schemeToJson, schemeToString } from '../../src/train/scheme.ts';
import { narrowKernelName } from '../../src/train/narrow_gradients.ts';
import { main } from '../../src/cli/cli.ts';
import { buildZooModel } from '../../src/zoo/zoo.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import { trainableLayers } from '../../src/train/training_graph.ts';

describe('the scheme\'s gradient storage', () => {
  it('reads grad=i16|i8|f32 inline and in JSON, writes it back only when narrow', () => {
    const s = parseScheme('bias:last=2,grad=i16,lr=0.1');
    expect(s.grad).toBe('i16');
    expect(schemeToString(s)).toBe('bias:last=2,qas=on,lr=0.1,grad=i16');
    expect(parseScheme(schemeToString(s))).toEqual(s);
    expect(parseScheme(schemeToJson(s))).toEqual(s);
    expect(parseScheme('{"bias": {"last": 1}, "grad": "i8"}').grad).toBe('i8');
    const f32 = parseScheme('bias:last=2,grad=f32');
    // float32 is the default and printed nowhere; written out, it is kept so that an integer-only target
    // (no FPU) refuses it rather than picking int16 in its place (test/cli/review_fixes.test.ts)
    expect(f32.grad).toBe('f32');
    expect(schemeToString(f32)).toBe('bias:last=2,qas=on,lr=0.05');
    expect(resolveScheme({ scheme: 'bias:last=2', grad: 'i8' }).grad).toBe('i8');
    expect(resolveScheme({ scheme: 'bias:last=2,grad=i8', grad: 'f32' }).grad).toBe('f32');
  });

  it.each([
    ['bias:last=2,grad=i4', /grad must be one of f32, i16, i8, not 'i4'/],
    ['{"bias": {"last": 1}, "grad": 16}', /grad must be one of f32, i16, i8, not 16/],
  ])('rejects %j clearly', (text, message) => {
    expect(() => parseScheme(text)).toThrow(McutrainError);
    expect(() => parseScheme(text)).toThrow(message);
  });

  it('refuses a bad --grad, and --grad without a scheme', async () => {
    await expect(main(['plan', 'x.tflite', '--train', 'bias:last=1', '--grad', 'f16'])).rejects.toThrow(/--grad must be one of f32, i16, i8, not 'f16'/);
    await expect(main(['compile', 'x.tflite', '-o', '/nonexistent', '--grad', 'i16'])).rejects.toThrow(/--grad need a training scheme/);
  });

  it('names the narrow kernel of each float32-gradient one', () => {
    expect(narrowKernelName('mt_softmax_xent_s8', 'i16')).toBe('mt_softmax_xent_s8_grad_s16');
    expect(narrowKernelName('mt_conv_grad_input_f32', 'i8')).toBe('mt_conv_grad_input_s8');
    expect(narrowKernelName('mt_mask_apply_f32', 'i16')).toBe('mt_mask_apply_s16');
    expect(narrowKernelName('mt_bias_update_s32', 'i16')).toBe('mt_bias_update_s32_g16');
    expect(narrowKernelName('mt_fully_connected_update_weights_s8', 'i8')).toBe('mt_fully_connected_update_weights_s8_g8');
    expect(() => narrowKernelName('mt_conv_s8', 'i16')).toThrow(/no narrow-gradient form/);
  });
});

describe('MCUNet-5FPS with TinyEngine\'s 49 KB scheme', async () => {
  const bytes = writeTflite(await buildZooModel('mcunet-5fps', { int8: true }));
  const SCHEME = 'bias:last=21,weights:layers=24@1/4,27,30@1/2,42';
  const analyze = (grad: 'f32' | 'i16' | 'i8', inPlace = true) =>
    analyzeModel(bytes, 'mc5.tflite', 'tflm', resolveScheme({ scheme: SCHEME, grad }), { inPlace }).training!;

  it('plans the training arena by the gradients\' storage, and with in-place depthwise input gradients (exact figures)', () => {
    const [f32, i16, i8] = (['f32', 'i16', 'i8'] as const).map((g) => analyze(g, false));
    const gradBytes = (t: typeof f32) => t.graph.tensors.filter((x) => x.name.startsWith('grad:')).map((x) => x.dtype);
    expect(new Set(gradBytes(f32))).toEqual(new Set(['float32']));
    expect(new Set(gradBytes(i16))).toEqual(new Set(['int16']));
    expect(new Set(gradBytes(i8))).toEqual(new Set(['int8']));
    // With 1-bit masks; before them (int8 outputs kept whole as masks): 203,008, 166,144, 150,272 B.
    // int16 and int8 put the peak in the forward pass (the patch-based stage), 73,200 B either way.
    expect([f32.plan.arenaBytes, i16.plan.arenaBytes, i8.plan.arenaBytes]).toEqual([123_008, 73_200, 73_200]);
    const inPlace = (['f32', 'i16', 'i8'] as const).map((g) => analyze(g));
    // before 1-bit masks: 186,880, 162,048, 150,272 B
    expect(inPlace.map((t) => t.plan.arenaBytes)).toEqual([96_512, 73_200, 73_200]);
    expect(f32.gradExponents).toBe(0);
    // one exponent per gradient tensor, aliases sharing theirs: every narrow call names entries below the count
    expect(i16.gradExponents).toBe(new Set(i16.graph.tensors.filter((x) => x.name.startsWith('grad:')).map((x) => x.id)).size);
    const entries = i16.backwardCalls.flatMap((c) => c.args.flatMap((a) => (a.kind === 'grad_exponent' ? [a.entry] : [])));
    expect(Math.max(...entries)).toBe(i16.gradExponents - 1);
    expect(i16.lossCall.fn).toBe('mt_softmax_xent_s8_grad_s16');
  });

  it('computes a frozen stride-1 depthwise input gradient over its output gradient, with a ring of rows', () => {
    const t = analyze('i16');
    const calls = t.backwardCalls.filter((c) => c.fn === 'mt_depthwise_conv_grad_input_inplace_s16');
    expect(calls.length).toBeGreaterThan(0);
    for (const c of calls) {
      const op = t.graph.operators[c.op] as Extract<typeof t.graph.operators[number], { kind: 'DEPTHWISE_CONV_2D' }>;
      expect([op.options.strideH, op.options.strideW, op.options.depthMultiplier]).toEqual([1, 1, 1]);
      const gradOut = c.tensors!.inputs[0], gradIn = c.tensors!.outputs[0];
      expect(c.aliases).toEqual([{ output: gradIn, input: gradOut }]);
      expect(t.plan.tensorOffset.get(gradIn)).toBe(t.plan.tensorOffset.get(gradOut));
      // ring: (3 - 1) - 1 + 1 = 2 rows of w x c int16 for a 3x3 SAME filter
      const [, , w, ch] = t.graph.tensors[gradOut].shape;
      const fh = t.graph.tensors[op.inputs[1]].shape[1];
      expect(c.scratchBytes).toBe((fh - Math.floor((fh - 1) / 2)) * w * ch * 2);
      // nothing after it reads the output gradient; the layer's own bias update runs before it
      const at = t.backwardCalls.indexOf(c);
      expect(t.backwardCalls.slice(at + 1).some((l) => l.tensors?.inputs.includes(gradOut))).toBe(false);
      const bias = t.backwardCalls.findIndex((l) => l.op === c.op && l.fn === 'mt_bias_update_s32_g16');
      if (bias >= 0) expect(bias).toBeLessThan(at);
    }
  });

  it('keeps the input gradient out of place where the layer\'s weights are trained', () => {
    const graph = importTflite(bytes, 'mc5.tflite');
    const { layers } = trainableLayers(graph);
    // the last frozen stride-1 depthwise layer the 49 KB scheme computes in place
    const t = analyze('f32');
    const inPlaceOps = new Set(t.backwardOps.flatMap((o) => (o.kind === 'grad_input' && o.inPlace ? [o.op.id] : [])));
    const layer = Math.max(...layers.map((op, i) => (inPlaceOps.has(op.id) ? i : -1)));
    expect(layer).toBeGreaterThan(0);
    const withWeights = analyzeModel(bytes, 'mc5.tflite', 'tflm', resolveScheme({ scheme: `${SCHEME.replace('42', `42,${layer}`)}` })).training!;
    const o = withWeights.backwardOps.find((x) => x.kind === 'grad_input' && x.op.id === layers[layer].id);
    expect(o).toMatchObject({ kind: 'grad_input', accumulate: false });
    expect(o!.kind === 'grad_input' && o!.inPlace).toBeFalsy();
    expect(withWeights.plan.arenaBytes).toBeGreaterThan(t.plan.arenaBytes);
  });
});
