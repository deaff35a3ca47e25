/**
 * RESHAPE's shape input must agree with its output tensor: the engine follows the output tensor, the
 * TensorFlow Lite interpreter the shape input, so a file where they differ (found by the model fuzzer:
 * a shape input rewired to another constant) is refused rather than compiled.
 */
import { describe, expect, it } from 'vitest';
import { lowerReshape } from '../../src/lower/ops/reshape.ts';
import { GraphBuilder } from './graph_builder.ts';

function reshapeWithShapeInput(newShape: number[]) {
  const b = new GraphBuilder();
  const x = b.activation('features', [1, 1, 1, 10], 0.1, 0);
  const shape = b.bias('new_shape', newShape);
  const y = b.activation('flat', [1, 10], 0.1, 0);
  const op = b.op('RESHAPE', [x, shape], [y], {});
  const graph = b.graph();
  return () => lowerReshape(graph, op);
}

describe('RESHAPE shape input', () => {
  it('accepts a shape input equal to the output shape, with or without one -1', () => {
    for (const values of [[1, 10], [-1, 10], [1, -1]]) expect(reshapeWithShapeInput(values), `[${values}]`).not.toThrow();
  });

  it('refuses a shape input that disagrees with the output tensor, naming both', () => {
    expect(reshapeWithShapeInput([2, 5])).toThrow("operator 0 (RESHAPE): its shape input asks for [2, 5] but its output 'flat' has shape [1, 10]");
    expect(reshapeWithShapeInput([0])).toThrow(/asks for \[0\] but its output 'flat' has shape \[1, 10\]/);
    expect(reshapeWithShapeInput([-1, -1])).toThrow(/asks for \[-1, -1\]/);
    expect(reshapeWithShapeInput([1, 1, 10])).toThrow(/asks for \[1, 1, 10\]/);
  });
});
