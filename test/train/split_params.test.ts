/**
 * Split trained tensors: only the trained block of a partly trained weight tensor is a training
 * parameter (in SRAM); input-channel fractions of 1x1 convolutions (the paper's form) save only the
 * trained input channels for the update.
 * - MCUNet-5FPS with TinyEngine's 49 KB scheme: exactly TinyEngine's 32,104 B of trained parameters
 *   (4,602 int32 biases + 13,696 int8 weights), in the output-channel form and in the paper's
 *   input-channel form, each tensor's block as the scheme names it;
 * - the input form copies each trained layer's first input channels in the forward pass, and the
 *   update reads that copy: the arena is 5,376 B smaller than the output form's;
 * - the `@in` spelling round-trips inline and as JSON; an input fraction where it cannot apply is refused;
 * - a block cut out of a tensor and put back gives the tensor (export: learned block + frozen rest).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { McutrainError } from '../../src/errors.ts';
import { writeTflite } from '../../src/export/write_tflite.ts';
import { withConstantBlock, withTrainedParam } from '../../src/export/apply_weights.ts';
import { joinBlock, splitBlock } from '../../src/ir/tensor_block.ts';
import { analyzeModel, type Analysis } from '../../src/pipeline/pipeline.ts';
import { resolveScheme } from '../../src/project/compile_project.ts';
import { parseScheme, schemeToJson, schemeToString } from '../../src/train/scheme.ts';
import { buildZooModel } from '../../src/zoo/zoo.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import { rng } from '../helpers/random.ts';

const OUTPUT_FORM = 'bias:last=21,weights:layers=24@1/4,27,30@1/2,42';
const INPUT_FORM = 'bias:last=21,weights:layers=24@in1/4,27,30@in1/2,42';
/** TinyEngine's 49 KB scheme on MCUNet-5FPS (../shared/anchors/README.md): 4,602 int32 biases + 13,696 int8 weights. */
const TINYENGINE_PARAM_BYTES = 4_602 * 4 + 13_696;

let mc5: Uint8Array;
const analyses = new Map<string, Analysis>();
const analysis = (scheme: string) => {
  if (!analyses.has(scheme)) analyses.set(scheme, analyzeModel(mc5, 'mc5.tflite', 'tflm', parseScheme(scheme), { patches: 'off' }));
  return analyses.get(scheme)!;
};
const weightParams = (a: Analysis) => a.training!.params.filter((p) => p.kind === 'weights').map((p) => [p.layer, p.bytes, p.slice]);

beforeAll(async () => {
  mc5 = writeTflite(await buildZooModel('mcunet-5fps', { input: [128, 128, 3], classes: 10, int8: true, calibrationSamples: 1 }));
}, 300_000);

describe('MCUNet-5FPS with TinyEngine\'s 49 KB scheme', () => {
  it('trains 32,104 B of parameters in the output-channel form: the first output channels\' rows of each weight tensor', () => {
    const t = analysis(OUTPUT_FORM).training!;
    expect(t.paramBytes).toBe(32_104);
    expect(t.paramBytes).toBe(TINYENGINE_PARAM_BYTES);
    expect(weightParams(analysis(OUTPUT_FORM))).toEqual([
      [24, 36 * 48, { rows: 36, cols: 48, rowSize: 48 }],
      [27, 96 * 48, { rows: 96, cols: 48, rowSize: 48 }],
      [30, 120 * 48, { rows: 120, cols: 48, rowSize: 48 }],
      [42, 10 * 160, undefined], // the classifier, whole: nothing stays in Flash
    ]);
    expect(t.forwardCalls.filter((c) => c.fn === 'mt_copy_channels_s8')).toEqual([]);
  });

  it('trains the same 32,104 B in the paper\'s input-channel form: the first input channels of every row', () => {
    const t = analysis(INPUT_FORM).training!;
    expect(t.paramBytes).toBe(32_104);
    expect(weightParams(analysis(INPUT_FORM))).toEqual([
      [24, 144 * 12, { rows: 144, cols: 12, rowSize: 48 }],
      [27, 192 * 24, { rows: 192, cols: 24, rowSize: 48 }],
      [30, 240 * 24, { rows: 240, cols: 24, rowSize: 48 }],
      [42, 10 * 160, undefined],
    ]);
    // momentum, when asked for, holds one float per trained weight: the block's shape
    const withMomentum = analyzeModel(mc5, 'mc5.tflite', 'tflm', parseScheme(`${INPUT_FORM},momentum=0.9`), { patches: 'off' }).training!;
    expect(withMomentum.params.filter((p) => p.kind === 'weights').map((p) => p.momentumFloats)).toEqual([144 * 12, 192 * 24, 240 * 24, 1600]);
  });

  it('reads the split tensors through their split view, forward and input gradient; the updates write the block', () => {
    for (const scheme of [OUTPUT_FORM, INPUT_FORM]) {
      const a = analysis(scheme);
      const t = a.training!;
      const split = new Set(t.params.filter((p) => p.slice).map((p) => p.tensor));
      const reads = (fn: string) => [...t.schedule, ...a.calls].filter((c) => c.fn === fn).flatMap((c) => c.args)
        .filter((x) => x.kind === 'split_filter' || (x.kind === 'tensor' && split.has(x.tensor)));
      expect(reads('mt_conv_s8')).toEqual([]); // no whole-tensor read of a split tensor is left
      expect(reads('mt_conv_grad_input_f32')).toEqual([]);
      expect(new Set(reads('mt_conv_s8_split').map((x) => (x as { tensor: number }).tensor))).toEqual(split);
      expect(new Set(reads('mt_conv_update_weights_s8').map((x) => x.kind))).toEqual(new Set(['tensor']));
    }
  });

  it('saves, in the input form, only the trained input channels for each update: a copy made in the forward pass', { timeout: 300_000 }, () => {
    const t = analysis(INPUT_FORM).training!;
    const g = t.graph;
    const copies = t.forwardCalls.filter((c) => c.fn === 'mt_copy_channels_s8');
    expect(copies.map((c) => [g.tensors[c.tensors!.inputs[0]].shape, g.tensors[c.tensors!.outputs[0]].shape])).toEqual([
      [[1, 8, 8, 48], [1, 8, 8, 12]], [[1, 8, 8, 48], [1, 8, 8, 24]], [[1, 8, 8, 48], [1, 8, 8, 24]],
    ]);
    for (const c of copies) expect(t.forwardCalls[t.forwardCalls.indexOf(c) + 1].op).toBe(c.op); // right before the layer
    // each update reads its copy, with a filter of the trained depth
    const updates = t.backwardCalls.filter((c) => c.fn === 'mt_conv_update_weights_s8');
    expect(updates.map((u) => u.tensors!.inputs[0])).toEqual(copies.map((c) => c.tensors!.outputs[0]).reverse());
    expect(updates.map((u) => (u.args[4] as { values: number[] }).values)).toEqual([[240, 1, 1, 24], [192, 1, 1, 24], [144, 1, 1, 12]]);
    // the 48-channel inputs (3 x 3,072 B) die after the forward pass, their copies (3,840 B) live to the
    // updates: the arena (with the patch-based early stage, as compile plans it) is 5,376 B smaller
    const arena = (scheme: string) => analyzeModel(mc5, 'mc5.tflite', 'tflm', parseScheme(scheme), { patches: 'auto' }).training!.plan.arenaBytes;
    expect([arena(INPUT_FORM), arena(OUTPUT_FORM)]).toEqual([91_136, 96_512]);
  });
});

describe('split tensors with narrow gradients', () => {
  it('are read split by the narrow input gradients too: the same trained blocks and saved slices', () => {
    for (const [scheme, grad] of [[OUTPUT_FORM, 'i16'], [INPUT_FORM, 'i16'], [INPUT_FORM, 'i8']] as const) {
      const t = analyzeModel(mc5, 'mc5.tflite', 'tflm', resolveScheme({ scheme, grad }), { patches: 'off' }).training!;
      const f32 = analysis(scheme).training!;
      expect(t.paramBytes).toBe(32_104);
      expect(t.params.map((p) => p.slice)).toEqual(f32.params.map((p) => p.slice));
      const fns = new Set(t.backwardCalls.flatMap((c) => (c.args.some((a) => a.kind === 'split_filter') ? [c.fn] : [])));
      expect(fns).toEqual(new Set([`mt_conv_grad_input_split_${grad === 'i16' ? 's16' : 's8'}`])); // the classifier is whole
      expect(t.forwardCalls.filter((c) => c.fn === 'mt_copy_channels_s8')).toHaveLength(scheme === INPUT_FORM ? 3 : 0);
    }
  });
});

describe('the input-fraction spelling', () => {
  it('round-trips inline and as JSON, mixed with output fractions', () => {
    const s = parseScheme('bias:last=2,weights:layers=24@in1/4,27,30@in1/2,31@1/8,42');
    expect(s.weights).toEqual([
      { layer: 24, fraction: 1, inputFraction: 0.25 }, { layer: 27, fraction: 1, inputFraction: 0.5 },
      { layer: 30, fraction: 1, inputFraction: 0.5 }, { layer: 31, fraction: 0.125 }, { layer: 42, fraction: 1 },
    ]);
    expect(schemeToString(s)).toBe('bias:last=2,weights:layers=24@in1/4,27,30@in1/2,31@1/8,42@1,qas=on,lr=0.05');
    expect(parseScheme(schemeToString(s))).toEqual(s);
    expect(JSON.parse(schemeToJson(s)).weights[0]).toEqual({ layer: 24, inputFraction: 0.25 });
    expect(parseScheme(schemeToJson(s))).toEqual(s);
    expect(parseScheme('{"weights":[{"layer":3,"inputFraction":"1/8"}]}').weights).toEqual([{ layer: 3, fraction: 1, inputFraction: 0.125 }]);
  });

  it('is refused with an output fraction on the same layer, at a fraction it does not know, and where it cannot apply', () => {
    expect(refusal(() => parseScheme('{"weights":[{"layer":3,"fraction":0.5,"inputFraction":0.5}]}')))
      .toMatch(/layer 3 has a fraction of its output channels and one of its input channels/);
    expect(refusal(() => parseScheme('weights:layers=3@in1/3'))).toMatch(/channel fraction 0.333.* of layer 3 is not one of/);
    // layer 0 is MCUNet's 3x3 stem, layer 1 a depthwise convolution
    for (const layer of [0, 1]) {
      expect(refusal(() => analyzeModel(mc5, 'mc5.tflite', 'tflm', parseScheme(`weights:layers=${layer}@in1/2`), { patches: 'off' })))
        .toMatch(new RegExp(`input channels of .* \\(layer ${layer}\\), which is not a 1x1 convolution`));
    }
  });
});

describe('a tensor block', () => {
  it('cut out and put back gives the tensor, in both forms and at every size', () => {
    const next = rng(5);
    for (let i = 0; i < 200; i++) {
      const rows = 1 + Math.floor(next() * 9), rowSize = 1 + Math.floor(next() * 9);
      const data = Uint8Array.from({ length: rows * rowSize }, () => Math.floor(next() * 256));
      const b = next() < 0.5 ? { rows: Math.floor(next() * (rows + 1)), cols: rowSize, rowSize } : { rows, cols: Math.floor(next() * (rowSize + 1)), rowSize };
      const { block, rest } = splitBlock(data, b);
      expect(block.length + rest.length).toBe(data.length);
      for (let r = 0; r < b.rows; r++) expect(Array.from(block.subarray(r * b.cols, (r + 1) * b.cols))).toEqual(Array.from(data.subarray(r * rowSize, r * rowSize + b.cols)));
      expect(joinBlock(new Uint8Array(data.length), block, b).filter((_, j) => j % rowSize < b.cols && Math.floor(j / rowSize) < b.rows))
        .toEqual(block);
      expect(joinBlock(data, block, b)).toEqual(data);
    }
  });

  it('learned, goes back into its tensor of the model (the rest of the tensor unchanged); a block of another shape is refused', () => {
    const graph = importTflite(mc5, 'mc5.tflite');
    const p = analysis(INPUT_FORM).training!.params.find((x) => x.layer === 24 && x.kind === 'weights')!;
    const learned = Uint8Array.from({ length: p.bytes }, (_, i) => (i * 7) & 0xff);
    const tuned = withTrainedParam(graph, p, learned);
    const before = graph.tensors[p.tensor].data!, after = tuned.tensors[p.tensor].data!;
    expect(splitBlock(after, p.slice!).block).toEqual(learned);
    expect(splitBlock(after, p.slice!).rest).toEqual(splitBlock(before, p.slice!).rest);
    expect(importTflite(writeTflite(tuned), 'tuned.tflite').tensors[p.tensor].data).toEqual(after);
    expect(refusal(() => withConstantBlock(graph, p.tensor, learned.subarray(1), p.slice!))).toMatch(/cannot put 1727 bytes into the 144x12 trained block/);
    expect(refusal(() => withConstantBlock(graph, p.tensor, learned, { rows: 144, cols: 12, rowSize: 47 }))).toMatch(/cannot put a 144x12 block \(rows of 47\)/);
  });
});

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(McutrainError);
    return (e as McutrainError).message;
  }
  return 'accepted';
}
