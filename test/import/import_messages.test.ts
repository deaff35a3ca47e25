/**
 * What the importer says about damaged files and operator codes: a corrupt file is called corrupt (with
 * what was found where), never a "dynamic shape" or an operator named PLACEHOLDER_FOR_GREATER_OP_CODES.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BuiltinOperator } from '../../src/import/tflite_schema.ts';
import { model } from '../helpers/paths.ts';
import { importRefusal } from './refusal.ts';
import { buildTflite, tinyFullyConnected, type ModelSpec, type TensorSpec } from './tflite_builder.ts';
import { fieldPosition, patched, subgraphOf } from './tflite_patch.ts';

const refusal = (bytes: Uint8Array) => importRefusal(bytes, 'model.tflite');

const TANH = 28;

describe('importer messages for damaged files', () => {
  it('calls a shape vector that points into a string corrupt, saying where and what it found', () => {
    const hello = new Uint8Array(readFileSync(model('hello_world_int8.tflite')));
    const weights = subgraphOf(hello).tensors[6];
    const shapeAt = fieldPosition(hello, weights, 'shape')!;
    const nameAt = fieldPosition(hello, weights, 'name')!;
    const view = new DataView(hello.buffer);
    const nameVector = nameAt + view.getUint32(nameAt, true);
    // The shape offset now leads to the tensor's name 'sequential/dense/MatMul': its characters read as dimensions.
    const error = refusal(patched(hello, (v) => v.setUint32(shapeAt, nameVector - shapeAt, true)));
    expect(error.message).toMatch(/^'model.tflite' is truncated or corrupt: Model\.subgraphs\[0\]\.tensors\[6\]\.shape: tensor 6 'sequential\/dense\/MatMul' has shape \[1970365811, \d+, /);
    expect(error.message).toMatch(/\.\.\. \(23 dimensions\)\], whose dimension 9 = -434 is not a size any model has$/);
    expect(error.message).not.toMatch(/dynamic/);
    expect(error.hint).toMatch(/truncated or damaged/);
  });

  it('still calls -1 a dynamic dimension, and shortens a long shape in the message', () => {
    const spec = (weights: Partial<TensorSpec>) => buildTflite(tinyFullyConnected({ tensors: [{}, weights] }));
    expect(refusal(spec({ shape: [-1, 4] })).message).toMatch(/tensor 1 'weights' has a dynamic shape \[-1, 4\]/);
    expect(refusal(spec({ shape: [1, 2, 3, -7] })).message).toMatch(/truncated or corrupt: .*dimension 3 = -7 is not a size/);
    const long = refusal(spec({ shape: [...Array(40).fill(1), -9] })).message;
    expect(long).toContain('[1, 1, 1, 1, 1, 1, 1, 1, ... (41 dimensions)]');
  });

  it('calls an element type code outside the TensorType enum corrupt', () => {
    expect(refusal(buildTflite(tinyFullyConnected({ tensors: [{}, { type: 77 }] }))).message)
      .toMatch(/is truncated or corrupt: Model\.subgraphs\[0\]\.tensors\[1\]\.type: tensor 1 'weights' has element type code 77, which is not a TFLite TensorType/);
  });
});

describe('importer messages for operator codes', () => {
  const fc = (extra: object) => buildTflite(tinyFullyConnected({ fc: extra }));

  it('reads extended codes from builtin_code and names a missing one instead of PLACEHOLDER_FOR_GREATER_OP_CODES', () => {
    const error = refusal(fc({ code: 150, omitBuiltinCode: true }));
    expect(error.message).toBe("'model.tflite' is truncated or corrupt: Model.operator_codes[0]: deprecated_builtin_code is 127 " +
      '(PLACEHOLDER_FOR_GREATER_OP_CODES: the code is in builtin_code), but builtin_code is absent');
    expect(refusal(fc({ code: 150 })).message).toMatch(/GELU \(code 150\) at operator 0/);
  });

  it('refuses code fields that disagree, naming both readings', () => {
    expect(refusal(fc({ code: BuiltinOperator.FULLY_CONNECTED, deprecatedCode: BuiltinOperator.CONV_2D })).message)
      .toMatch(/Model\.operator_codes\[0\]: the two operator code fields disagree \(deprecated_builtin_code = 3, builtin_code = 9: CONV_2D \(code 3\) or FULLY_CONNECTED \(code 9\)\)/);
    expect(refusal(fc({ deprecatedCode: -3 })).message).toMatch(/Model\.operator_codes\[0\]: negative operator code/);
  });

  it('names unknown codes by number', () => {
    expect(refusal(fc({ code: 999 })).message).toMatch(/does not support: unknown operator \(code 999\) at operator 0$/);
  });

  it('groups repeated unsupported operators into one entry', () => {
    const tensors: TensorSpec[] = Array.from({ length: 11 }, (_, i) => ({ name: `t${i}`, shape: [1, 4] }));
    const spec: ModelSpec = {
      tensors, inputs: [0], outputs: [10],
      operators: Array.from({ length: 10 }, (_, i) => ({ code: TANH, inputs: [i], outputs: [i + 1] })),
    };
    expect(refusal(buildTflite(spec)).message)
      .toBe('the model uses 10 operators mcutrain does not support: TANH (code 28) at operators 0, 1, 2, 3 and 6 more');
  });
});
