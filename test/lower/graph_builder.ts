/** Hand-built tiny graphs for lowering tests. */
import type { CStruct } from '../../src/lower/params_structs.ts';
import type { DType, Graph, Operator, OpKind, OpOf, Tensor } from '../../src/ir/graph.ts';

type OptionsOf<K extends OpKind> = OpOf<K>['options'];

export class GraphBuilder {
  readonly tensors: Tensor[] = [];
  readonly operators: Operator[] = [];

  private add(t: Omit<Tensor, 'id'>): number {
    const id = this.tensors.length;
    this.tensors.push({ id, ...t });
    return id;
  }

  /** A per-tensor quantized activation. */
  activation(name: string, shape: number[], scale: number, zeroPoint: number, dtype: DType = 'int8'): number {
    return this.add({ name, dtype, shape, quant: { scale: [scale], zeroPoint: [zeroPoint], axis: 0 } });
  }

  /** Constant int8 weights, quantized per tensor (one scale) or per channel along `axis`. */
  weights(name: string, shape: number[], values: number[], scales: number[], axis = 0, zeroPoints?: number[]): number {
    return this.add({
      name, dtype: 'int8', shape,
      quant: { scale: scales, zeroPoint: zeroPoints ?? scales.map(() => 0), axis },
      data: new Uint8Array(Int8Array.from(values).buffer),
    });
  }

  /** A constant int32 bias; `scale` (per tensor) defaults to none. */
  bias(name: string, values: number[], scale?: number): number {
    return this.add({
      name, dtype: 'int32', shape: [values.length],
      quant: scale === undefined ? undefined : { scale: [scale], zeroPoint: [0], axis: 0 },
      data: new Uint8Array(Int32Array.from(values).buffer),
    });
  }

  op<K extends OpKind>(kind: K, inputs: number[], outputs: number[], options: OptionsOf<K>): OpOf<K> {
    const op = { id: this.operators.length, kind, inputs, outputs, options } as unknown as OpOf<K>;
    this.operators.push(op);
    return op;
  }

  graph(): Graph {
    return { name: 'test', tensors: this.tensors, operators: this.operators, inputs: [], outputs: [] };
  }
}

/** Looks up a struct field of a lowered call by name. */
export function field(call: { structs: CStruct[] }, name: string): unknown {
  const fields: Record<string, unknown> = call.structs[0].fields;
  if (!(name in fields)) throw new Error(`no field ${name}`);
  return fields[name];
}

/** The values of a lowered call's constant array. */
export function constArray(call: { consts: { name: string; values: ArrayLike<number> }[] }, name: string): number[] {
  const c = call.consts.find((x) => x.name === name);
  if (!c) throw new Error(`no const ${name}`);
  return Array.from(c.values);
}
