/** The ranges fused activations clamp to: float-free, so calibration reads them without loading tfjs. */
import { McutrainError } from '../errors.ts';
import type { Activation } from '../ir/graph.ts';

/** The range a fused activation clamps to (undefined bounds: open). */
export function fusedActivationBounds(activation: Activation): { min?: number; max?: number } {
  switch (activation) {
    case 'NONE': return {};
    case 'RELU': return { min: 0 };
    case 'RELU6': return { min: 0, max: 6 };
    case 'RELU_N1_TO_1': return { min: -1, max: 1 };
    case 'TANH': return { min: -1, max: 1 };
    default:
      throw new McutrainError(`fused activation ${activation} is not supported`, 'use NONE, RELU, RELU6, RELU_N1_TO_1 or TANH');
  }
}
