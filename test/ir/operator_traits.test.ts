/**
 * The operator-traits table (src/ir/operator_traits.ts): it says what the passes' own sets said before
 * it replaced them, its slots sit where TensorFlow Lite puts each input (checked on converter-written
 * models and in the TFLite interpreter), and its accessors read operators by slot name.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeTflite } from '../../src/export/write_tflite.ts';
import { importTfliteFile } from '../../src/import/import_tflite.ts';
import { isConstant, type Graph, type OpKind, type OpOf, type Tensor } from '../../src/ir/graph.ts';
import {
  activationInputs, inputCounts, inputOf, isWeighted, OPERATOR_TRAITS, type OperatorTraits, optionalInput, outputAxis, roleOfInput, slotIndex, slotInputs,
  traitsOf,
} from '../../src/ir/operator_traits.ts';
import { loadInterpreter, type Oracle } from '../oracle/tflite_interpreter.ts';

const MODELS = fileURLToPath(new URL('../../../shared/models/', import.meta.url));
const KINDS = Object.keys(OPERATOR_TRAITS) as OpKind[];
const sorted = (kinds: OpKind[]) => [...kinds].sort();
const kindsWhere = (test: (t: OperatorTraits) => boolean): OpKind[] => KINDS.filter((k) => test(traitsOf(k)));

describe('the operator-traits table', () => {
  // What lower.ts, quantize_graph.ts, training_graph.ts, autodiff.ts, clamp_masks.ts, patch_stage.ts,
  // float_reference.ts and the importer each spelled out before reading the table.
  it('says what the passes\' own sets said before it replaced them', () => {
    expect(sorted(kindsWhere((t) => t.weights !== undefined))).toEqual(sorted(['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED']));
    expect(sorted(kindsWhere((t) => t.clamp !== undefined)))
      .toEqual(sorted(['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED', 'ADD', 'AVERAGE_POOL_2D', 'MEAN']));
    expect(kindsWhere((t) => t.clamp === 'int8')).toEqual(['MEAN']);
    expect(sorted(kindsWhere((t) => t.gradient !== 'none')))
      .toEqual(sorted(['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED', 'ADD', 'AVERAGE_POOL_2D', 'MEAN', 'PAD', 'RESHAPE']));
    expect(sorted(kindsWhere((t) => t.gradient === 'identity'))).toEqual(sorted(['ADD', 'RESHAPE']));
    expect(sorted(kindsWhere((t) => t.local))).toEqual(sorted(['CONV_2D', 'DEPTHWISE_CONV_2D', 'PAD', 'ADD', 'AVERAGE_POOL_2D', 'MAX_POOL_2D']));
    expect(sorted(kindsWhere((t) => t.outputQuant === 'input'))).toEqual(sorted(['AVERAGE_POOL_2D', 'MAX_POOL_2D', 'RESHAPE', 'PAD', 'RELU', 'RELU6']));
    expect(kindsWhere((t) => t.outputQuant === 'softmax')).toEqual(['SOFTMAX']);
    const parameterSlots = Object.fromEntries(KINDS.flatMap((k) => {
      const at = traitsOf(k).inputs.flatMap((s, i) => (s.role === 'parameter' ? [i] : []));
      return at.length ? [[k, at]] : [];
    }));
    expect(parameterSlots).toEqual({ RESHAPE: [1], PAD: [1], MEAN: [1] });
    expect(Object.fromEntries(KINDS.map((k) => [k, inputCounts(k)]))).toEqual({
      CONV_2D: { required: 2, optional: 1 }, DEPTHWISE_CONV_2D: { required: 2, optional: 1 }, FULLY_CONNECTED: { required: 2, optional: 1 },
      AVERAGE_POOL_2D: { required: 1, optional: 0 }, MAX_POOL_2D: { required: 1, optional: 0 }, ADD: { required: 2, optional: 0 },
      MEAN: { required: 2, optional: 0 }, PAD: { required: 2, optional: 0 }, RESHAPE: { required: 1, optional: 1 },
      SOFTMAX: { required: 1, optional: 0 }, CONCATENATION: { required: 1, optional: Infinity }, QUANTIZE: { required: 1, optional: 0 },
      DEQUANTIZE: { required: 1, optional: 0 }, RELU: { required: 1, optional: 0 }, RELU6: { required: 1, optional: 0 },
    });
  });

  it('numbers the slots as TensorFlow Lite Micro\'s kernels do', () => {
    // kConvInputTensor 0, kConvWeightsTensor 1, kConvBiasTensor 2 (and the depthwise and fully-connected twins)
    for (const kind of ['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED'] as const) {
      expect(['input', 'weights', 'bias'].map((s) => slotIndex(kind, s))).toEqual([0, 1, 2]);
    }
    expect([slotIndex('ADD', 'input1'), slotIndex('ADD', 'input2')]).toEqual([0, 1]); // kInputTensor1, kInputTensor2
    expect(slotIndex('RESHAPE', 'shape')).toBe(1); // kShapeTensor
    expect(slotIndex('PAD', 'paddings')).toBe(1);
    expect(slotIndex('MEAN', 'axis')).toBe(1);
    expect(() => slotIndex('SOFTMAX', 'weights')).toThrow(/SOFTMAX has no input slot 'weights'/);
  });

  it('keeps its rules consistent: clamps only where a gradient flows, optional and variadic slots last, weighted layers alike', () => {
    for (const kind of KINDS) {
      const t = traitsOf(kind);
      if (t.clamp) expect(t.gradient, kind).not.toBe('none');
      const firstOptional = t.inputs.findIndex((s) => s.optional || s.variadic);
      if (firstOptional >= 0) expect(t.inputs.slice(firstOptional).every((s) => s.optional || s.variadic), kind).toBe(true);
      expect(t.inputs.slice(0, -1).some((s) => s.variadic), kind).toBe(false);
      if (t.weights) expect(t.inputs.map((s) => `${s.name}:${s.role}`), kind).toEqual(['input:activation', 'weights:weights', 'bias:bias']);
      else expect(t.inputs.some((s) => s.role === 'weights' || s.role === 'bias'), kind).toBe(false);
    }
  });

  // Converter-written models: every input sits in the slot whose role fits the tensor found there.
  it.each(['person_detect_int8.tflite', 'micro_speech_int8.tflite', 'vww96_int8.tflite'])('fits every operator input of %s', (file) => {
    const graph = importTfliteFile(MODELS + file);
    let weighted = 0;
    for (const op of graph.operators) {
      const output = graph.tensors[op.outputs[0]];
      op.inputs.forEach((id, i) => {
        const t = graph.tensors[id];
        const role = roleOfInput(op.kind, i);
        const where = `op ${op.id} ${op.kind} input ${i} (${role})`;
        expect(isConstant(t), where).toBe(role !== 'activation');
        if (role !== 'activation') expect(t.dtype, where).toBe(role === 'weights' ? 'int8' : 'int32');
      });
      if (!isWeighted(op)) continue;
      weighted++;
      const weights = graph.tensors[inputOf(op, 'weights')];
      const channels = weights.shape[outputAxis(op)];
      expect(channels, `op ${op.id}`).toBe(output.shape[output.shape.length - 1]);
      expect(optionalInput(graph, op, 'bias')?.shape, `op ${op.id}`).toEqual([channels]);
    }
    expect(weighted).toBeGreaterThan(0);
  });
});

describe('reading and building operators by slot name', () => {
  const tensor = (id: number, shape: number[], data?: number[]): Tensor =>
    ({ id, name: `t${id}`, dtype: data ? 'int32' : 'float32', shape, ...(data ? { data: new Uint8Array(Int32Array.from(data).buffer) } : {}) });

  it('finds inputs by name, -1 / undefined for an absent optional one, and the activations among them', () => {
    const conv: OpOf<'CONV_2D'> = {
      id: 0, kind: 'CONV_2D', inputs: slotInputs('CONV_2D', { input: 3, weights: 1 }), outputs: [4],
      options: { padding: 'SAME', strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, activation: 'NONE' },
    };
    expect(conv.inputs).toEqual([3, 1]);
    expect([inputOf(conv, 'input'), inputOf(conv, 'weights'), inputOf(conv, 'bias')]).toEqual([3, 1, -1]);
    const graph = { tensors: [] } as unknown as Graph;
    expect(optionalInput(graph, conv, 'bias')).toBeUndefined();
    expect(activationInputs(conv)).toEqual([3]);
    const add: OpOf<'ADD'> = { id: 1, kind: 'ADD', inputs: slotInputs('ADD', { input2: 5, input1: 6 }), outputs: [7], options: { activation: 'NONE' } };
    expect(add.inputs).toEqual([6, 5]);
    expect(activationInputs(add)).toEqual([6, 5]);
    expect(activationInputs({ id: 2, kind: 'CONCATENATION', inputs: [1, 2, 3], outputs: [4], options: { axis: 0, activation: 'NONE' } })).toEqual([1, 2, 3]);
    expect(activationInputs({ id: 3, kind: 'MEAN', inputs: [1, 2], outputs: [4], options: { keepDims: true } })).toEqual([1]);
  });

  const opened: Oracle[] = [];
  afterAll(() => opened.forEach((o) => o.dispose()));

  // PAD then MEAN, built by slot name: the interpreter reads the paddings and axes where the table puts them.
  it('builds operators the TFLite interpreter reads as intended', async () => {
    const tensors = [
      tensor(0, [1, 2, 2, 1]), tensor(1, [4, 2], [0, 0, 1, 1, 0, 2, 0, 0]), tensor(2, [1, 4, 4, 1]),
      tensor(3, [2], [1, 2]), tensor(4, [1, 1, 1, 1]),
    ];
    const graph: Graph = {
      name: 'pad_mean', tensors, inputs: [0], outputs: [4],
      operators: [
        { id: 0, kind: 'PAD', inputs: slotInputs('PAD', { input: 0, paddings: 1 }), outputs: [2], options: {} },
        { id: 1, kind: 'MEAN', inputs: slotInputs('MEAN', { input: 2, axis: 3 }), outputs: [4], options: { keepDims: true } },
      ],
    };
    const oracle = await loadInterpreter(writeTflite(graph));
    opened.push(oracle);
    const [mean] = oracle.run([Float32Array.from([1, 2, 3, 10])]);
    expect(Array.from(mean)).toEqual([16 / 16]); // the 2x2 input padded to 4x4 with zeros: a sum of 16 over 16 cells
  });
});
