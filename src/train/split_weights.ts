/**
 * Split trained tensors: only the trained block of a partly trained weight tensor lives in SRAM
 * (training_graph.ts: TrainedSlice), the frozen rest stays in Flash. The kernels that read such a
 * tensor whole (the forward pass and the input gradient) take it as an mt_split_filter instead of one
 * pointer (firmware/include/mcutrain/kernels/common.h), through their `_split` entry points; the
 * updates write the block alone, as before. And an input fraction saves, for its update, only the
 * first channels of the layer's input: the forward pass copies them into a small tensor.
 */
import { elementCount } from '../ir/graph.ts';
import type { KernelCall } from '../lower/kernel_call.ts';
import type { SavedSlice } from './autodiff.ts';

/** The kernels that read a whole weight tensor, and their entry points for a split one (input gradients: every gradient type). */
const SPLIT_ENTRY: Record<string, string> = {
  mt_conv_s8: 'mt_conv_s8_split',
  mt_fully_connected_s8: 'mt_fully_connected_s8_split',
  ...Object.fromEntries(['f32', 's16', 's8', 'i16', 'i8'].flatMap((g) => [
    [`mt_conv_grad_input_${g}`, `mt_conv_grad_input_split_${g}`],
    [`mt_fully_connected_grad_input_${g}`, `mt_fully_connected_grad_input_split_${g}`],
  ])),
};

/** Kernels that read a split tensor as it is in SRAM (its trained block): the updates, whatever their gradient type. */
const WRITES_BLOCK = /^mt_\w+_update_weights_s8(_[gi]\d+)?$/;

/**
 * Of the `candidates` (partly trained weight tensors), those every call can read split: through a
 * `_split` entry point or as the block an update writes. A tensor some other kernel reads whole
 * (one without a split form) stays whole in SRAM.
 */
export function splitTensors(candidates: Iterable<number>, calls: KernelCall[]): Set<number> {
  const readsWhole = (c: KernelCall, t: number) =>
    c.fn !== null && !(c.fn in SPLIT_ENTRY) && !WRITES_BLOCK.test(c.fn) && c.args.some((a) => a.kind === 'tensor' && a.tensor === t);
  return new Set([...candidates].filter((t) => !calls.some((c) => readsWhole(c, t))));
}

/**
 * The call reading tensors of `split` through their split view, or the call itself when it reads none.
 * Calls are rewritten once each (memoized), so a call shared by two schedules stays one object.
 */
export function splitWeightsView(split: ReadonlySet<number>): (call: KernelCall) => KernelCall {
  const memo = new Map<KernelCall, KernelCall>();
  return (call) => {
    const done = memo.get(call);
    if (done) return done;
    const entry = call.fn ? SPLIT_ENTRY[call.fn] : undefined;
    const reads = entry !== undefined && call.args.some((a) => a.kind === 'tensor' && split.has(a.tensor));
    const out: KernelCall = !reads ? call : {
      ...call, fn: entry!,
      args: call.args.map((a) => (a.kind === 'tensor' && split.has(a.tensor) ? { kind: 'split_filter', tensor: a.tensor } : a)),
    };
    memo.set(call, out);
    return out;
  };
}

/** The forward call that saves the first channels of a trained layer's input for its weight update. */
export function saveSliceCall(s: SavedSlice, from: { shape: number[] }, to: { shape: number[] }): KernelCall {
  const depth = from.shape[from.shape.length - 1];
  const channels = to.shape[to.shape.length - 1];
  return {
    op: s.layer.op.id, name: `save${s.to}`, fn: 'mt_copy_channels_s8',
    args: [{ kind: 'tensor', tensor: s.from }, { kind: 'int', value: elementCount(from.shape) / depth }, { kind: 'int', value: depth },
      { kind: 'int', value: channels }, { kind: 'tensor', tensor: s.to }],
    consts: [], structs: [], scratchBytes: 0,
    tensors: { inputs: [s.from], outputs: [s.to] },
    macs: 0,
  };
}
