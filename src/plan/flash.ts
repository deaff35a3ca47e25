/** What the model's constants occupy in Flash: the constant tensors the calls read plus their computed parameters. */
import type { Graph } from '../ir/graph.ts';
import { tensorBytes } from '../ir/graph.ts';
import type { CScalarType, KernelCall } from '../lower/kernel_call.ts';

const C_SCALAR_BYTES: Record<CScalarType, number> = { int8_t: 1, uint8_t: 1, int16_t: 2, int32_t: 4, uint32_t: 4, float: 4 };

/** Ids of the constant tensors the calls read, ascending. */
export function usedConstantTensors(graph: Graph, calls: KernelCall[]): number[] {
  const ids = new Set<number>();
  for (const c of calls) for (const a of c.args) if ((a.kind === 'tensor' || a.kind === 'split_filter') && graph.tensors[a.tensor].data) ids.add(a.tensor);
  return [...ids].sort((a, b) => a - b);
}

export function flashConstBytes(graph: Graph, calls: KernelCall[]): number {
  const tensors = usedConstantTensors(graph, calls).reduce((s, id) => s + tensorBytes(graph.tensors[id]), 0);
  const params = calls.reduce((s, c) => s + c.consts.reduce((x, k) => x + k.values.length * C_SCALAR_BYTES[k.ctype], 0), 0);
  return tensors + params;
}
