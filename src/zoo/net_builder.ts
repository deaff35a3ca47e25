/**
 * Builds the float32 graphs of the model zoo layer by layer, with TFLite's operator vocabulary and
 * layouts (NHWC activations, OHWI conv filters, 1HWC depthwise filters, [out, in] fully-connected
 * weights), inferring every output shape as TFLite does (SAME / VALID padding).
 *
 * Weights are drawn deterministically from one seeded stream, in the order the layers are added:
 * Kaiming-normal on the fan-in (std = gain / sqrt(fan_in); gain sqrt(2) before a ReLU or ReLU6,
 * 1 before a linear output), as a freshly initialized network has them. Batch normalization is
 * folded into each convolution, which therefore has a bias; those biases are drawn small
 * (uniform in ±0.1, what a folded BatchNorm leaves) rather than left at zero, so that a wrong bias
 * anywhere changes the outputs.
 */
import { McutrainError } from '../errors.ts';
import { elementCount, type Activation, type Graph, type Operator, type OpKind, type OpOf, type Padding, type Tensor } from '../ir/graph.ts';
import { slotInputs, type NamedInputs } from '../ir/operator_traits.ts';
import { outputSize } from '../lower/common.ts';
import { seededUniform } from '../util/random.ts';

/** Standard normal values from a uniform source (Box-Muller, both values used). */
export function seededNormal(uniform: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    const u = 1 - uniform(); // (0, 1]: log(u) is finite
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

/** A handle on an activation tensor while the graph is built. */
export interface Node {
  id: number;
  /** NHWC (or [N, C] after flattening). */
  shape: number[];
}

export interface ConvSpec {
  out: number;
  kernel: number | [number, number];
  stride?: number | [number, number];
  padding?: Padding;
  activation?: Activation;
  name?: string;
}

export interface DepthwiseSpec {
  kernel: number | [number, number];
  stride?: number | [number, number];
  padding?: Padding;
  activation?: Activation;
  name?: string;
}

const BIAS_RANGE = 0.1;

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

/** The Kaiming gain for a layer followed by `activation`. */
function gainFor(activation: Activation): number {
  return activation === 'RELU' || activation === 'RELU6' ? Math.SQRT2 : 1;
}

export class NetBuilder {
  private readonly tensors: Tensor[] = [];
  private readonly operators: Operator[] = [];
  private readonly inputs: number[] = [];
  private readonly uniform: () => number;
  private readonly normal: () => number;
  private layer = 0;

  constructor(readonly name: string, seed: number) {
    this.uniform = seededUniform(seed);
    this.normal = seededNormal(this.uniform);
  }

  input(shape: number[], name = 'input'): Node {
    const id = this.addTensor({ name, dtype: 'float32', shape: [...shape] });
    this.inputs.push(id);
    return { id, shape: [...shape] };
  }

  /** CONV_2D with a bias (the folded BatchNorm). */
  conv(x: Node, spec: ConvSpec): Node {
    const [n, h, w, c] = this.nhwc(x, 'CONV_2D');
    const [kh, kw] = pair(spec.kernel);
    const [sh, sw] = pair(spec.stride ?? 1);
    const padding = spec.padding ?? 'SAME';
    const activation = spec.activation ?? 'NONE';
    const name = spec.name ?? this.nextName('conv');
    const weights = this.kaiming(`${name}/weights`, [spec.out, kh, kw, c], kh * kw * c, activation);
    const bias = this.bias(`${name}/bias`, spec.out);
    const shape = [n, this.outSize(padding, h, kh, sh, name), this.outSize(padding, w, kw, sw, name), spec.out];
    return this.op('CONV_2D', { input: x.id, weights, bias }, shape, name,
      { padding, strideH: sh, strideW: sw, dilationH: 1, dilationW: 1, activation });
  }

  /** DEPTHWISE_CONV_2D (depth multiplier 1) with a bias. */
  depthwise(x: Node, spec: DepthwiseSpec): Node {
    const [n, h, w, c] = this.nhwc(x, 'DEPTHWISE_CONV_2D');
    const [kh, kw] = pair(spec.kernel);
    const [sh, sw] = pair(spec.stride ?? 1);
    const padding = spec.padding ?? 'SAME';
    const activation = spec.activation ?? 'NONE';
    const name = spec.name ?? this.nextName('depthwise');
    const weights = this.kaiming(`${name}/weights`, [1, kh, kw, c], kh * kw, activation);
    const bias = this.bias(`${name}/bias`, c);
    const shape = [n, this.outSize(padding, h, kh, sh, name), this.outSize(padding, w, kw, sw, name), c];
    return this.op('DEPTHWISE_CONV_2D', { input: x.id, weights, bias }, shape, name,
      { padding, strideH: sh, strideW: sw, dilationH: 1, dilationW: 1, activation, depthMultiplier: 1 });
  }

  add(a: Node, b: Node, activation: Activation = 'NONE', name = this.nextName('add')): Node {
    if (a.shape.join(',') !== b.shape.join(',')) {
      throw new Error(`${this.name}: ADD of shapes [${a.shape}] and [${b.shape}]`); // a bug in a zoo module
    }
    return this.op('ADD', { input1: a.id, input2: b.id }, [...a.shape], name, { activation });
  }

  /** AVERAGE_POOL_2D with the given window; `global` pools the whole feature map to 1x1. */
  averagePool(x: Node, filter: [number, number] | 'global', stride?: [number, number], name = this.nextName('pool')): Node {
    const [n, h, w, c] = this.nhwc(x, 'AVERAGE_POOL_2D');
    const [fh, fw] = filter === 'global' ? [h, w] : filter;
    const [sh, sw] = stride ?? [fh, fw];
    const shape = [n, this.outSize('VALID', h, fh, sh, name), this.outSize('VALID', w, fw, sw, name), c];
    return this.op('AVERAGE_POOL_2D', { input: x.id }, shape, name,
      { padding: 'VALID', strideH: sh, strideW: sw, filterH: fh, filterW: fw, activation: 'NONE' });
  }

  /**
   * MEAN over height and width (global average pooling as the TFLite converter writes Keras'
   * GlobalAveragePooling2D): [N, C], or [N, 1, 1, C] with `keepDims`; the axes are an int32 constant input.
   */
  mean(x: Node, keepDims = false, name = this.nextName('mean')): Node {
    const [n, , , c] = this.nhwc(x, 'MEAN');
    const axes = this.addTensor({ name: `${name}/axes`, dtype: 'int32', shape: [2], data: bytes(Int32Array.from([1, 2])) });
    return this.op('MEAN', { input: x.id, axis: axes }, keepDims ? [n, 1, 1, c] : [n, c], name, { keepDims });
  }

  /** RESHAPE to [N, everything else] (Keras' Flatten), with the new shape as an int32 constant input. */
  flatten(x: Node, name = this.nextName('flatten')): Node {
    const shape = [x.shape[0], elementCount(x.shape.slice(1))];
    const target = this.addTensor({ name: `${name}/shape`, dtype: 'int32', shape: [2], data: bytes(Int32Array.from(shape)) });
    return this.op('RESHAPE', { input: x.id, shape: target }, shape, name, {});
  }

  fullyConnected(x: Node, out: number, activation: Activation = 'NONE', name = this.nextName('fc')): Node {
    if (x.shape.length !== 2) throw new Error(`${this.name}: FULLY_CONNECTED on shape [${x.shape}]`);
    const [n, inDepth] = x.shape;
    const weights = this.kaiming(`${name}/weights`, [out, inDepth], inDepth, activation);
    const bias = this.bias(`${name}/bias`, out);
    return this.op('FULLY_CONNECTED', { input: x.id, weights, bias }, [n, out], name, { activation, keepNumDims: false });
  }

  softmax(x: Node, name = 'softmax'): Node {
    return this.op('SOFTMAX', { input: x.id }, [...x.shape], name, { beta: 1 });
  }

  graph(outputs: Node[]): Graph {
    return {
      name: this.name,
      tensors: this.tensors.map((t) => ({ ...t, shape: [...t.shape] })),
      operators: this.operators.map((op) => ({ ...op, inputs: [...op.inputs], outputs: [...op.outputs] }) as Operator),
      inputs: [...this.inputs],
      outputs: outputs.map((o) => o.id),
    };
  }

  // -------------------------------------------------------------------------------------------------

  private nextName(kind: string): string {
    return `${kind}_${this.layer++}`;
  }

  private nhwc(x: Node, kind: OpKind): number[] {
    if (x.shape.length !== 4) throw new Error(`${this.name}: ${kind} needs an NHWC tensor, got [${x.shape}]`);
    return x.shape;
  }

  /** Output size along one axis; a window larger than a VALID input means the input was too small. */
  private outSize(padding: Padding, input: number, filter: number, stride: number, layer: string): number {
    const size = outputSize(padding, input, filter, stride);
    if (!(size >= 1)) {
      throw new McutrainError(`${this.name}: the input is too small: layer '${layer}' would get a ${input}-pixel side for a ${filter}-pixel window`,
        'use a larger input size (see mcutrain zoo list for the defaults)');
    }
    return size;
  }

  private addTensor(t: Omit<Tensor, 'id'>): number {
    this.tensors.push({ id: this.tensors.length, ...t });
    return this.tensors.length - 1;
  }

  private kaiming(name: string, shape: number[], fanIn: number, activation: Activation): number {
    const std = gainFor(activation) / Math.sqrt(fanIn);
    const values = new Float32Array(elementCount(shape));
    for (let i = 0; i < values.length; i++) values[i] = std * this.normal();
    return this.addTensor({ name, dtype: 'float32', shape, data: bytes(values) });
  }

  private bias(name: string, n: number): number {
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = BIAS_RANGE * (2 * this.uniform() - 1);
    return this.addTensor({ name, dtype: 'float32', shape: [n], data: bytes(values) });
  }

  private op<K extends OpKind>(kind: K, inputs: NamedInputs<K>, shape: number[], name: string, options: OpOf<K>['options']): Node {
    const out = this.addTensor({ name, dtype: 'float32', shape });
    this.operators.push({ id: this.operators.length, kind, inputs: slotInputs(kind, inputs), outputs: [out], options } as Operator);
    return { id: out, shape: [...shape] };
  }
}

function bytes(values: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}
