/**
 * Graphs whose dataflow is broken are refused at import, naming the tensor and the operator. Each case
 * edits one value in a real model (hello_world_int8: input 0 -> FC op 0 -> 7 -> FC op 1 -> 8 -> FC op 2
 * -> output 9) the way a damaged file or a careless tool would; every one of them used to compile into
 * an engine that ran and answered wrong.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { importTflite } from '../../src/import/import_tflite.ts';
import { graphProblems } from '../../src/import/validate_graph.ts';
import { analyzeModel } from '../../src/pipeline/pipeline.ts';
import { model } from '../helpers/paths.ts';
import { importRefusal } from './refusal.ts';
import { buildTflite, tinyFullyConnected } from './tflite_builder.ts';
import { setInt32Element, setUint32Field, setVectorLength, subgraphOf } from './tflite_patch.ts';

const HELLO = new Uint8Array(readFileSync(model('hello_world_int8.tflite')));
const { subgraph, operators, tensors } = subgraphOf(HELLO);

const refusal = (bytes: Uint8Array) => importRefusal(bytes, 'mutant.tflite');

describe('graph validation at import', () => {
  it('accepts every reference model unchanged', () => {
    for (const file of ['hello_world_int8.tflite', 'person_detect_int8.tflite', 'micro_speech_int8.tflite', 'ad01_int8.tflite', 'vww96_float.tflite']) {
      expect(graphProblems(importTflite(new Uint8Array(readFileSync(model(file))), file)), file).toEqual([]);
    }
  });

  const cases: { mutation: string; bytes: () => Uint8Array; says: string[] }[] = [
    {
      mutation: 'graph input rewired to an intermediate tensor',
      bytes: () => setInt32Element(HELLO, subgraph, 'inputs', 0, 7),
      says: [
        "operator 0 (FULLY_CONNECTED) reads tensor 0 'serving_default_dense_input:0', which has no data, is not a model input and is written by no operator",
        'operator 0 (FULLY_CONNECTED) overwrites model input tensor 7',
      ],
    },
    {
      mutation: 'last operator dropped (the output is never computed)',
      bytes: () => setVectorLength(HELLO, subgraph, 'operators', 2),
      says: ["model output tensor 9 'StatefulPartitionedCall:0' is written by no operator (it has no value)"],
    },
    {
      mutation: 'an operator reads a tensor before it is written',
      bytes: () => setInt32Element(HELLO, operators[0], 'inputs', 0, 8),
      says: ['operator 0 (FULLY_CONNECTED) reads tensor 8', 'before operator 1 (FULLY_CONNECTED) writes it'],
    },
    {
      mutation: 'an operator reads its own output',
      bytes: () => setInt32Element(HELLO, operators[1], 'inputs', 0, 8),
      says: ['operator 1 (FULLY_CONNECTED) reads its own output tensor 8'],
    },
    {
      mutation: 'a weight tensor without data',
      bytes: () => setUint32Field(HELLO, tensors[6], 'buffer', 0),
      says: ["operator 0 (FULLY_CONNECTED) reads tensor 6 'sequential/dense/MatMul', which has no data"],
    },
    {
      mutation: 'two operators write one tensor',
      bytes: () => setInt32Element(HELLO, operators[1], 'outputs', 0, 7),
      says: ['is written by both operator 0 (FULLY_CONNECTED) and operator 1 (FULLY_CONNECTED)'],
    },
    {
      mutation: 'an operator writes a constant',
      bytes: () => setInt32Element(HELLO, operators[2], 'outputs', 0, 1),
      says: ["operator 2 (FULLY_CONNECTED) writes tensor 1 'sequential/dense_2/BiasAdd/ReadVariableOp', which is a constant"],
    },
    { mutation: 'no inputs', bytes: () => setVectorLength(HELLO, subgraph, 'inputs', 0), says: ['the model has no inputs'] },
    { mutation: 'no outputs', bytes: () => setVectorLength(HELLO, subgraph, 'outputs', 0), says: ['the model has no outputs'] },
    { mutation: 'no operators', bytes: () => setVectorLength(HELLO, subgraph, 'operators', 0), says: ['the model has no operators'] },
  ];

  it.each(cases)('refuses a model with $mutation, naming the tensor and operator', ({ bytes, says }) => {
    const error = refusal(bytes());
    expect(error.message).toMatch(/^'mutant.tflite' does not describe a computable graph: /);
    for (const text of says) expect(error.message).toContain(text);
    expect(error.hint).toMatch(/re-export/);
  });

  it('refuses a zero-operator model whose output is its input (it used to emit C that failed -Werror)', () => {
    const spec = tinyFullyConnected();
    const bytes = buildTflite({ ...spec, tensors: spec.tensors.slice(0, 1), operators: [], inputs: [0], outputs: [0] });
    expect(refusal(bytes).message).toContain("the model has no operators (nothing computes its outputs); model output tensor 0 'input' is written by no operator (it is a model input)");
  });

  it('stops the compile path too: analyzeModel refuses the model with its last operator dropped', () => {
    expect(() => analyzeModel(setVectorLength(HELLO, subgraph, 'operators', 2), 'mutant.tflite'))
      .toThrow(/model output tensor 9 'StatefulPartitionedCall:0' is written by no operator/);
  });
});
