/**
 * Size of a model as papers report it: multiply-accumulates of one inference and trainable parameters
 * (weights and biases of the convolutions and fully-connected layers; with BatchNorm folded, as here,
 * each normalized layer has one bias per channel instead of BatchNorm's scale and shift).
 */
import { elementCount, type Graph, type OpKind } from '../ir/graph.ts';
import { inputOf, isWeighted, optionalInput } from '../ir/operator_traits.ts';

export interface ModelStats {
  macs: number;
  params: number;
  /** Per weighted layer, in execution order. */
  layers: { op: number; kind: OpKind; macs: number; params: number }[];
}

export function modelStats(graph: Graph): ModelStats {
  const layers: ModelStats['layers'] = [];
  for (const op of graph.operators) {
    if (!isWeighted(op)) continue;
    const weights = graph.tensors[inputOf(op, 'weights')].shape;
    const biasTensor = optionalInput(graph, op, 'bias');
    const bias = biasTensor ? elementCount(biasTensor.shape) : 0;
    const out = graph.tensors[op.outputs[0]].shape;
    // Every output element takes one MAC per weight feeding it: the filter volume (conv: kh*kw*cin;
    // depthwise: kh*kw; fully connected: the input depth).
    const perOutput = op.kind === 'CONV_2D' ? elementCount(weights.slice(1))
      : op.kind === 'DEPTHWISE_CONV_2D' ? weights[1] * weights[2]
      : weights[1];
    layers.push({ op: op.id, kind: op.kind, macs: elementCount(out) * perOutput, params: elementCount(weights) + bias });
  }
  return {
    macs: layers.reduce((s, l) => s + l.macs, 0),
    params: layers.reduce((s, l) => s + l.params, 0),
    layers,
  };
}
