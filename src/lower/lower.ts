/**
 * Pass `lower`: graph IR -> one KernelCall per operator, in execution order.
 * Each operator's lowering lives in ops/<op>.ts; this file only checks that the graph is one the
 * int8 engine runs and dispatches.
 */
import type { Graph, Operator, OpKind, OpOf } from '../ir/graph.ts';
import { isWeighted, optionalInput } from '../ir/operator_traits.ts';
import { McutrainError } from '../errors.ts';
import type { KernelCall } from './kernel_call.ts';
import { DEFAULT_NUMERICS, type LowerContext } from './numerics.ts';
import { lowerConv2d } from './ops/conv.ts';
import { lowerDepthwiseConv2d } from './ops/depthwise_conv.ts';
import { lowerFullyConnected } from './ops/fully_connected.ts';
import { lowerAveragePool2d, lowerMaxPool2d } from './ops/pooling.ts';
import { lowerAdd } from './ops/add.ts';
import { lowerMean } from './ops/mean.ts';
import { lowerPad } from './ops/pad.ts';
import { lowerReshape } from './ops/reshape.ts';
import { lowerSoftmax } from './ops/softmax.ts';
import { lowerConcatenation } from './ops/concatenation.ts';
import { lowerQuantize, lowerDequantize } from './ops/quantize.ts';
import { lowerRelu, lowerRelu6 } from './ops/activation.ts';

type Lowerings = { [K in OpKind]: (graph: Graph, op: OpOf<K>, ctx: LowerContext) => KernelCall };

const LOWERINGS: Lowerings = {
  CONV_2D: lowerConv2d,
  DEPTHWISE_CONV_2D: lowerDepthwiseConv2d,
  FULLY_CONNECTED: lowerFullyConnected,
  AVERAGE_POOL_2D: lowerAveragePool2d,
  MAX_POOL_2D: lowerMaxPool2d,
  ADD: lowerAdd,
  MEAN: lowerMean,
  PAD: lowerPad,
  RESHAPE: lowerReshape,
  SOFTMAX: lowerSoftmax,
  CONCATENATION: lowerConcatenation,
  QUANTIZE: lowerQuantize,
  DEQUANTIZE: lowerDequantize,
  RELU: lowerRelu,
  RELU6: lowerRelu6,
};

/** The int8 engine runs quantized graphs; float32 may appear only at the edges (QUANTIZE in, DEQUANTIZE out). */
export function checkInt8Graph(graph: Graph): void {
  for (const op of graph.operators) {
    // A weighted layer's weights tell whether a model was quantized.
    if (!isWeighted(op)) continue;
    const weights = optionalInput(graph, op, 'weights');
    if (weights && weights.dtype === 'float32') {
      throw new McutrainError(
        `'${graph.name}' is a float32 model (operator ${op.id} ${op.kind} has float weights '${weights.name}'); the engine runs int8 models`,
        'quantize it to int8 first (mcutrain quantize, or the TFLite converter with full-integer quantization)',
      );
    }
  }
}

export function lowerGraph(graph: Graph, ctx: LowerContext = { numerics: DEFAULT_NUMERICS }): KernelCall[] {
  checkInt8Graph(graph);
  return graph.operators.map((op) => lowerOperator(graph, op, ctx));
}

function lowerOperator(graph: Graph, op: Operator, ctx: LowerContext): KernelCall {
  const lowering = LOWERINGS[op.kind] as (g: Graph, o: Operator, c: LowerContext) => KernelCall;
  return lowering(graph, op, ctx);
}
