/**
 * withTrainedParams: a device's whole parameter space (READ_PARAMS 'params') put back into the model,
 * tensor by tensor at the offsets the project's manifest gives (the API's readWeights).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { McutrainError } from '../../src/errors.ts';
import { withTrainedParams } from '../../src/export/apply_weights.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import { REPO } from '../helpers/paths.ts';
import { randomBytes, rng } from '../helpers/random.ts';

const graph = importTflite(new Uint8Array(readFileSync(path.join(REPO, 'models', 'mnist04_int8.tflite'))), 'mnist04_int8.tflite');
const fc = graph.operators[graph.operators.length - 1];
// The classifier's bias (int32 [5]: 20 bytes) then its weights (int8 [5, 32]: 160 bytes), as a scheme training both lays them out.
const params = [
  { name: 'bias', tensor: fc.inputs[2], offset: 0, bytes: 20 },
  { name: 'weights', tensor: fc.inputs[1], offset: 20, bytes: 160 },
];

describe('withTrainedParams', () => {
  it('puts each tensor\'s bytes back from its offset in the parameter space', () => {
    const space = randomBytes(180, rng(3));
    const tuned = withTrainedParams(graph, params, space);
    expect(tuned.tensors[fc.inputs[2]].data).toEqual(space.subarray(0, 20));
    expect(tuned.tensors[fc.inputs[1]].data).toEqual(space.subarray(20, 180));
    expect(graph.tensors[fc.inputs[1]].data).not.toEqual(space.subarray(20, 180)); // the original is untouched
  });

  it('refuses a parameter space too short for the layout, naming the tensor', () => {
    expect(() => withTrainedParams(graph, params, new Uint8Array(179))).toThrow(McutrainError);
    expect(() => withTrainedParams(graph, params, new Uint8Array(179))).toThrow("the project puts 'weights' at bytes 20..180 but the device holds 179");
  });
});
