/**
 * Gradient functions for tfjs-core, which registers none by itself: the union package does, through
 * dist/register_all_gradients.js, whose extensionless ESM imports Node cannot load, so tf.grad with
 * only @tensorflow/tfjs-core and @tensorflow/tfjs-backend-cpu fails on the first operator it meets
 * ("gradient function not found for ..."). These are the kernels the float forward passes use
 * (src/quantize/float_reference.ts, the MNIST experiment, the training oracle), each defined as tfjs
 * defines it (tfjs-core src/gradients/*_grad.ts) unless a comment says otherwise. Dilated
 * convolutions have no gradient here, as in tfjs.
 *
 * Used by the float training of test/helpers/mnist_pipeline.ts (tests and experiments) and test/oracle/float_gradients.ts.
 */
import * as tf from '@tensorflow/tfjs-core';

type ConvPad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

/** Sums `dy` down to `shape` (undoes broadcasting). */
function unbroadcast(dy: tf.Tensor, shape: number[]): tf.Tensor {
  const lead = dy.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < dy.rank; i++) if (i < lead || shape[i - lead] === 1 && dy.shape[i] !== 1) axes.push(i);
  return axes.length ? tf.reshape(tf.sum(dy, axes), shape) : dy;
}

function pair(v: unknown): [number, number] {
  return typeof v === 'number' ? [v, v] : (v as [number, number]);
}

function assertUndilated(kernel: string, dilations: unknown): void {
  const [dh, dw] = dilations === undefined || dilations === null ? [1, 1] : pair(dilations);
  if (dh !== 1 || dw !== 1) throw new Error(`${kernel} gradient: dilation rates above 1 are not supported (got ${dh}x${dw})`);
}

/**
 * dL/dfilter of an NHWC conv (HWIO filter) as one matrix product, im2col(x)^T * dy: the CPU backend's
 * Conv2DBackpropFilter kernel is two orders of magnitude slower than this.
 */
function filterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: number[], strides: number | [number, number], pad: ConvPad): tf.Tensor {
  const [kh, kw, ci, co] = filterShape;
  const [sh, sw] = pair(strides);
  const n = x.shape[0];
  const [, oh, ow] = dy.shape;
  // im2col as a convolution with a one-hot filter: patch element (i, j, c) lands in channel (i * kw + j) * ci + c.
  const eye = new Float32Array(kh * kw * ci * kh * kw * ci);
  for (let k = 0; k < kh * kw * ci; k++) eye[k * kh * kw * ci + k] = 1;
  const columns = tf.conv2d(x, tf.tensor4d(eye, [kh, kw, ci, kh * kw * ci]), [sh, sw], pad);
  const patches = tf.reshape(columns, [n * oh * ow, kh * kw * ci]);
  return tf.reshape(tf.matMul(patches, tf.reshape(dy, [n * oh * ow, co]), true, false), [kh, kw, ci, co]);
}

/**
 * dL/dfilter of an NHWC depthwise conv (filter [kh, kw, C, 1]) as one depthwise convolution:
 * dW[i, j, c] = sum over n, y, x of xpad[n, i + y*sh, j + x*sw, c] * dy[n, y, x, c], i.e. the padded
 * input correlated with dy dilated by the stride, per (sample, channel) pair, then summed over samples.
 * The CPU backend's DepthwiseConv2dNativeBackpropFilter kernel is over ten times slower than the
 * forward pass (it made pretraining test/helpers/transfer_pipeline.ts's MobileNet-style net take
 * minutes per epoch); this costs about one forward pass. Other depth multipliers use the kernel.
 */
function depthwiseFilterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: number[], strides: unknown, pad: ConvPad): tf.Tensor {
  const [kh, kw, c] = filterShape;
  const [sh, sw] = pair(strides);
  const [n, h, w] = x.shape;
  const [, oh, ow] = dy.shape;
  const split = (total: number): [number, number] => [Math.floor(total / 2), total - Math.floor(total / 2)];
  let pads: [number, number][];
  if (Array.isArray(pad)) pads = pad.map((p) => [p[0], p[1]]);
  else if (pad === 'valid') pads = [[0, 0], [0, 0], [0, 0], [0, 0]];
  else if (pad === 'same') pads = [[0, 0], split(Math.max((oh - 1) * sh + kh - h, 0)), split(Math.max((ow - 1) * sw + kw - w, 0)), [0, 0]];
  else pads = [[0, 0], [pad, pad], [pad, pad], [0, 0]];
  const padded = tf.pad(x, pads);
  const [, hp, wp] = padded.shape;
  // Samples become channels: channel n*C + c of the input is sample n's channel c, likewise for dy as the filter.
  const input = tf.reshape(tf.transpose(padded, [1, 2, 0, 3]), [1, hp, wp, n * c]) as tf.Tensor4D;
  const filter = tf.reshape(tf.transpose(dy, [1, 2, 0, 3]), [oh, ow, n * c, 1]) as tf.Tensor4D;
  const out = tf.depthwiseConv2d(input, filter, 1, 'valid', 'NHWC', [sh, sw]);
  const taps = tf.slice(out, [0, 0, 0, 0], [1, kh, kw, n * c]);
  return tf.reshape(tf.sum(tf.reshape(taps, [kh, kw, n, c]), 2), filterShape);
}

const CONFIGS: tf.GradConfig[] = [
  {
    kernelName: 'Conv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved;
      const { strides, pad, dataFormat, dimRoundingMode, dilations } = attrs as unknown as Record<string, unknown>;
      assertUndilated('Conv2D', dilations);
      const common = { strides, pad, dataFormat, dimRoundingMode } as unknown as tf.NamedAttrMap;
      return {
        x: () => tf.engine().runKernel('Conv2DBackpropInput', { dy: dy as tf.Tensor, filter }, { ...common, inputShape: x.shape }) as tf.Tensor,
        filter: () => filterGradient(x as tf.Tensor4D, dy as tf.Tensor4D, filter.shape, strides as number | [number, number], pad as ConvPad),
      };
    },
  },
  {
    kernelName: 'DepthwiseConv2dNative',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved;
      const { strides, pad, dimRoundingMode, dilations } = attrs as unknown as Record<string, unknown>;
      assertUndilated('DepthwiseConv2dNative', dilations);
      const common = { strides, pad, dimRoundingMode, dilations: [1, 1] } as unknown as tf.NamedAttrMap;
      return {
        x: () => tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: dy as tf.Tensor, filter }, { ...common, inputShape: x.shape }) as tf.Tensor,
        filter: () => (filter.shape[3] === 1
          ? depthwiseFilterGradient(x as tf.Tensor4D, dy as tf.Tensor4D, filter.shape, strides, pad as ConvPad)
          : tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy: dy as tf.Tensor }, { ...common, filterShape: filter.shape }) as tf.Tensor),
      };
    },
  },
  {
    kernelName: 'Add',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved;
      return { a: () => unbroadcast(dy as tf.Tensor, a.shape), b: () => unbroadcast(dy as tf.Tensor, b.shape) };
    },
  },
  {
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.mul(dy as tf.Tensor, tf.cast(tf.greater(saved[0], 0), 'float32')) }),
  },
  {
    // Passes where min <= x <= max: a value exactly at a bound still passes its gradient (measure zero in float).
    kernelName: 'ClipByValue',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { clipValueMin, clipValueMax } = attrs as unknown as { clipValueMin: number; clipValueMax: number };
      const inside = tf.logicalAnd(tf.greaterEqual(x, clipValueMin), tf.lessEqual(x, clipValueMax));
      return { x: () => tf.where(inside, dy as tf.Tensor, tf.zerosLike(dy as tf.Tensor)) };
    },
  },
  {
    kernelName: 'Reshape',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.reshape(dy as tf.Tensor, saved[0].shape) }),
  },
  {
    kernelName: 'Transpose',
    gradFunc: (dy, _saved, attrs) => {
      const { perm } = attrs as unknown as { perm: number[] };
      const undo = perm.map((_, i) => perm.indexOf(i));
      return { x: () => tf.transpose(dy as tf.Tensor, undo) };
    },
  },
  {
    // tf.avgPool casts its result to the input's type, so a Cast node sits on every pooling path.
    kernelName: 'Cast',
    gradFunc: (dy) => ({ x: () => (dy as tf.Tensor).clone() }),
  },
  {
    kernelName: 'BatchMatMul',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved;
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const g = dy as tf.Tensor;
      if (!transposeA && !transposeB) return { a: () => tf.matMul(g, b, false, true), b: () => tf.matMul(a, g, true, false) };
      if (!transposeA && transposeB) return { a: () => tf.matMul(g, b, false, false), b: () => tf.matMul(g, a, true, false) };
      if (transposeA && !transposeB) return { a: () => tf.matMul(b, g, false, true), b: () => tf.matMul(a, g, false, false) };
      return { a: () => tf.matMul(b, g, true, true), b: () => tf.matMul(g, a, true, true) };
    },
  },
  {
    kernelName: 'AvgPool',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { filterSize, strides, pad } = attrs as unknown as Record<string, unknown>;
      return {
        x: () => tf.engine().runKernel('AvgPoolGrad', { dy: dy as tf.Tensor, input: x }, { filterSize, strides, pad } as unknown as tf.NamedAttrMap) as tf.Tensor,
      };
    },
  },
  {
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { axis } = attrs as unknown as { axis: number | number[] };
      const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + x.rank : a));
      const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const count = axes.reduce((n, a) => n * x.shape[a], 1);
      return { x: () => tf.div(tf.mul(tf.reshape(dy as tf.Tensor, expanded), tf.ones(x.shape, 'float32')), count) };
    },
  },
  {
    kernelName: 'PadV2',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { paddings } = attrs as unknown as { paddings: [number, number][] };
      return { x: () => tf.slice(dy as tf.Tensor, paddings.map((p) => p[0]), x.shape) };
    },
  },
];

let registered = false;

/** Registers the gradients above once (later calls do nothing). */
export function registerTrainingGradients(): void {
  if (registered) return;
  registered = true;
  for (const config of CONFIGS) tf.registerGradient(config);
}

/**
 * Mean softmax cross-entropy (natural log) of `logits` [n, k] against one-hot `labels` [n, k], with its
 * gradient (softmax - labels) / n (labels get none). It brings its own gradient, so it needs none of the
 * Sum, Mul, Neg or Exp gradients tfjs-core lacks.
 */
export const softmaxCrossEntropy = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [logits, labels, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  const logProbs = tf.logSoftmax(logits);
  save([logProbs, labels]);
  return {
    value: tf.neg(tf.mean(tf.sum(tf.mul(labels, logProbs), 1))),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [lp, y] = saved;
      return [tf.mul(dy, tf.div(tf.sub(tf.exp(lp), y), lp.shape[0])), tf.zerosLike(y)];
    },
  };
}) as (logits: tf.Tensor, labels: tf.Tensor) => tf.Scalar;
