/** `mcutrain inspect`: what a model holds and what running it will cost. */
import type { Graph, Tensor } from '../ir/graph.ts';
import { tensorBytes } from '../ir/graph.ts';
import { analyzeGraph, importChecked } from '../pipeline/pipeline.ts';
import { flashConstBytes } from '../plan/flash.ts';
import { McutrainError } from '../errors.ts';
import { formatBytes, formatTable } from '../util/table.ts';

export interface InspectReport {
  model: string;
  operators: { index: number; kind: string; inputs: number[]; outputs: number[]; macs: number | null }[];
  opCounts: Record<string, number>;
  tensors: { id: number; name: string; dtype: string; shape: number[]; bytes: number; constant: boolean; quantization: string }[];
  inputs: number[];
  outputs: number[];
  /** Present when the int8 engine can run the model. */
  engine?: { arenaBytes: number; lowerBoundBytes: number; flashConstBytes: number; macs: number };
  /** Why the int8 engine cannot run it, otherwise. */
  engineError?: string;
}

function describeQuant(t: Tensor): string {
  const q = t.quant;
  if (!q || q.scale.length === 0) return '';
  if (q.scale.length === 1) return `scale ${q.scale[0].toPrecision(6)} zp ${q.zeroPoint[0] ?? 0}`;
  return `per-channel (${q.scale.length} scales, axis ${q.axis})`;
}

export function inspectModel(bytes: Uint8Array, name: string): InspectReport {
  const graph: Graph = importChecked(bytes, name);
  const report: InspectReport = {
    model: name,
    operators: graph.operators.map((op) => ({ index: op.id, kind: op.kind, inputs: op.inputs, outputs: op.outputs, macs: null })),
    opCounts: {},
    tensors: graph.tensors.map((t) => ({
      id: t.id, name: t.name, dtype: t.dtype, shape: t.shape, bytes: tensorBytes(t), constant: t.data !== undefined, quantization: describeQuant(t),
    })),
    inputs: graph.inputs,
    outputs: graph.outputs,
  };
  for (const op of graph.operators) report.opCounts[op.kind] = (report.opCounts[op.kind] ?? 0) + 1;
  try {
    // The inference build's analysis, as compile makes it (default numerics, no patches).
    const { calls, plan } = analyzeGraph(graph);
    for (const c of calls) report.operators[c.op].macs = c.macs;
    report.engine = {
      arenaBytes: plan.arenaBytes,
      lowerBoundBytes: plan.lowerBoundBytes,
      flashConstBytes: flashConstBytes(graph, calls),
      macs: calls.reduce((s, c) => s + c.macs, 0),
    };
  } catch (e) {
    if (!(e instanceof McutrainError)) throw e;
    report.engineError = e.message + (e.hint ? ` (${e.hint})` : '');
  }
  return report;
}

export function formatInspectReport(r: InspectReport): string {
  const tensorName = (id: number) => (id < 0 ? '-' : r.tensors[id].name);
  const shape = (s: number[]) => `[${s.join(',')}]`;
  const out: string[] = [];
  out.push(`Model ${r.model}: ${r.operators.length} operators, ${r.tensors.length} tensors`);
  out.push(`  ${Object.entries(r.opCounts).map(([k, n]) => `${k} x${n}`).join(', ')}`);
  const io = (ids: number[]) => ids.map((id) => `${r.tensors[id].name} ${r.tensors[id].dtype}${shape(r.tensors[id].shape)}`).join(', ');
  out.push(`  inputs:  ${io(r.inputs)}`);
  out.push(`  outputs: ${io(r.outputs)}`);
  out.push('');
  out.push('Operators');
  out.push(formatTable(['#', 'operator', 'inputs', 'outputs', 'MACs'],
    r.operators.map((o) => [o.index, o.kind, o.inputs.filter((i) => i >= 0).map(tensorName).join(', '), o.outputs.map(tensorName).join(', '), o.macs === null ? '' : o.macs.toLocaleString('en-US')]),
    new Set([0, 4])));
  out.push('');
  out.push('Tensors');
  out.push(formatTable(['id', 'name', 'type', 'shape', 'bytes', 'kind', 'quantization'],
    r.tensors.map((t) => [t.id, t.name, t.dtype, shape(t.shape), t.bytes, t.constant ? 'const' : 'act', t.quantization]),
    new Set([0, 4])));
  out.push('');
  if (r.engine) {
    out.push('Int8 engine (planned, before target runtime overhead)');
    out.push(`  SRAM arena:          ${formatBytes(r.engine.arenaBytes)}  (lower bound ${formatBytes(r.engine.lowerBoundBytes)})`);
    out.push(`  Flash constants:     ${formatBytes(r.engine.flashConstBytes)}`);
    out.push(`  MACs per inference:  ${r.engine.macs.toLocaleString('en-US')}`);
  } else {
    out.push(`Int8 engine: cannot run this model: ${r.engineError}`);
  }
  return out.join('\n');
}
