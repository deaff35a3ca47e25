/**
 * A float IR graph as a trainable tfjs-core model: the weights and biases of its weighted layers
 * (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED) become tf.Variables, kept in TFLite layouts, and the
 * forward pass is src/quantize/float_reference.ts's operator by operator, so what is trained here is
 * exactly what the quantizer calibrates and the engine runs. Fused activations are applied as a clamp
 * (tfjs-core has a gradient for ClipByValue among test/helpers/tfjs_gradients.ts, none for Relu6).
 *
 * The IR graph has batch 1; a batch of n runs on a copy whose activation shapes lead with n (graphs
 * with a RESHAPE are refused: its constant target shape would need rewriting too).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Graph, Operator } from '../../src/ir/graph.ts';
import { isConstant } from '../../src/ir/graph.ts';
import { bytesOf, readFloat32 } from '../../src/ir/tensor_data.ts';
import { floatOperator, fusedActivation, fusedActivationBounds, runContext } from '../../src/quantize/float_reference.ts';
import { softmaxCrossEntropy } from './tfjs_gradients.ts';
import type { TrainingScheme } from '../../src/train/scheme.ts';

export const WEIGHTED = new Set(['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED']);

/** One weighted layer's parameters as variables (IR layouts: OHWI, 1HWC, [out, in]). */
export interface LayerVariables {
  op: Operator;
  weights: tf.Variable;
  bias: tf.Variable | undefined;
}

/** A trained tensor of a sparse scheme, with the mask of the output channels it updates (undefined = all). */
export interface SparseParameter {
  variable: tf.Variable;
  mask: tf.Tensor | undefined;
}

/** `graph` with every activation tensor's leading (batch) dimension set to `n`. */
function withBatch(graph: Graph, n: number): Graph {
  if (graph.operators.some((op) => op.kind === 'RESHAPE')) throw new Error(`${graph.name}: batched training of a graph with RESHAPE is not supported here`);
  return { ...graph, tensors: graph.tensors.map((t) => (isConstant(t) ? t : { ...t, shape: [n, ...t.shape.slice(1)] })) };
}

export class TrainableGraph {
  /** Weighted layers in execution order (the scheme's layer numbering). */
  readonly layers: LayerVariables[];
  private readonly variables = new Map<number, tf.Variable>();
  private readonly constants = new Map<number, tf.Tensor>();
  private readonly batched = new Map<number, Graph>();

  constructor(readonly graph: Graph) {
    for (const op of graph.operators) {
      for (const id of op.inputs) {
        const t = graph.tensors[id];
        if (id < 0 || !isConstant(t) || t.dtype !== 'float32' || this.variables.has(id) || this.constants.has(id)) continue;
        const value = tf.tensor(readFloat32(t), t.shape, 'float32');
        if (WEIGHTED.has(op.kind)) {
          this.variables.set(id, tf.variable(value, true));
          value.dispose();
        } else {
          this.constants.set(id, value);
        }
      }
    }
    this.layers = graph.operators.filter((op) => WEIGHTED.has(op.kind)).map((op) => ({
      op,
      weights: this.variables.get(op.inputs[1])!,
      bias: op.inputs[2] >= 0 ? this.variables.get(op.inputs[2]) : undefined,
    }));
  }

  /** Logits [n, classes] of a batch x [n, H, W, C]. Call inside tf.tidy or a gradient function. */
  forward(x: tf.Tensor): tf.Tensor2D {
    const n = x.shape[0];
    let graph = this.batched.get(n);
    if (!graph) this.batched.set(n, (graph = withBatch(this.graph, n)));
    const live = new Map<number, tf.Tensor>([[graph.inputs[0], x]]);
    const ctx = runContext(graph, live, this.variables, this.constants);
    for (const op of graph.operators) {
      const { min, max } = fusedActivationBounds(fusedActivation(op));
      const y = floatOperator(ctx, op);
      live.set(op.outputs[0], min === undefined && max === undefined ? y : tf.clipByValue(y, min ?? -Infinity, max ?? Infinity));
    }
    const logits = live.get(graph.outputs[0])!;
    return tf.reshape(logits, [n, -1]) as tf.Tensor2D;
  }

  /** Mean softmax cross-entropy of the batch against integer labels. */
  loss(x: tf.Tensor, labels: readonly number[]): tf.Scalar {
    const logits = this.forward(x);
    const y = tf.oneHot(tf.tensor1d(labels as number[], 'int32'), logits.shape[1]);
    return softmaxCrossEntropy(logits, y);
  }

  /** All trainable variables (every weight and bias of every weighted layer). */
  allVariables(): tf.Variable[] {
    return [...this.variables.values()];
  }

  /**
   * The tensors a sparse scheme updates, resolved as the engine resolves it (docs/training.md): the
   * biases of the last `biasLast` weighted layers, and the weights of the listed layers (negative =
   * from the end), restricted to their first `fraction` output channels by a 0/1 gradient mask.
   */
  sparseParameters(scheme: TrainingScheme): SparseParameter[] {
    const n = this.layers.length;
    const out: SparseParameter[] = [];
    for (const w of scheme.weights) {
      const i = w.layer < 0 ? n + w.layer : w.layer;
      if (!(i >= 0 && i < n)) throw new Error(`the scheme names layer ${w.layer}; ${this.graph.name} has ${n} weighted layers`);
      const { op, weights } = this.layers[i];
      out.push({ variable: weights, mask: w.fraction === 1 ? undefined : channelMask(weights.shape, op.kind === 'DEPTHWISE_CONV_2D' ? 3 : 0, w.fraction) });
    }
    for (const layer of this.layers.slice(Math.max(0, n - scheme.biasLast))) {
      if (layer.bias) out.push({ variable: layer.bias, mask: undefined });
    }
    return out;
  }

  /** A copy of the IR graph holding the current values of the variables. */
  toGraph(): Graph {
    const tensors = this.graph.tensors.map((t) => {
      const v = this.variables.get(t.id);
      return v ? { ...t, data: bytesOf(Float32Array.from(v.dataSync() as Float32Array)) } : { ...t };
    });
    return { ...this.graph, tensors };
  }

  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
    for (const c of this.constants.values()) c.dispose();
  }
}

/** 1 on the first `fraction` of the channels along `axis`, 0 elsewhere. */
function channelMask(shape: number[], axis: number, fraction: number): tf.Tensor {
  const channels = shape[axis];
  const kept = Math.round(channels * fraction);
  const perChannel = tf.tensor1d(Array.from({ length: channels }, (_, c) => (c < kept ? 1 : 0)));
  const broadcastShape = shape.map((d, i) => (i === axis ? d : 1));
  return tf.tidy(() => tf.mul(tf.reshape(perChannel, broadcastShape), tf.ones(shape)));
}

/**
 * One SGD step, batch 1 or more, on the scheme's tensors only: p <- p - lr * mask * dL/dp. Returns the
 * loss before the step.
 */
export function sgdStep(model: TrainableGraph, params: readonly SparseParameter[], x: tf.Tensor, labels: readonly number[], lr: number): number {
  const { value, grads } = tf.variableGrads(() => model.loss(x, labels), params.map((p) => p.variable));
  tf.tidy(() => {
    for (const p of params) {
      const g = grads[p.variable.name];
      p.variable.assign(tf.sub(p.variable, tf.mul(p.mask ? tf.mul(g, p.mask) : g, lr)));
    }
  });
  const loss = value.dataSync()[0];
  value.dispose();
  tf.dispose(Object.values(grads));
  return loss;
}
