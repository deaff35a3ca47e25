/**
 * Pass `emitC`: lowered calls + memory plan -> the generated C sources of a project, as text.
 * Builds a plain view-model and renders templates/ with Handlebars; no file system access here.
 */
import type { DType, Graph, Tensor } from '../ir/graph.ts';
import { elementCount, tensorBytes } from '../ir/graph.ts';
import type { CScalarType, KernelArg, KernelCall } from '../lower/kernel_call.ts';
import type { MemoryPlan } from '../plan/plan_memory.ts';
import type { Target } from '../targets/target.ts';
import { McutrainError } from '../errors.ts';
import { cArrayLines, cComment, cFloat, cInt, cString } from './c_literals.ts';
import { structInitializers } from './params_c.ts';
import { type LoopArg, type PatchArrays, type PatchLoopC, patchArraysC, patchLoopC } from './patch_loop_c.ts';
import { type ScheduledCall, withPatchLoops } from '../plan/patch_loop.ts';
import { renderTemplate } from './templates.ts';
import { constantValues } from '../ir/tensor_data.ts';
import { targetView } from './target_view.ts';
import { splitBlock } from '../ir/tensor_block.ts';
import { flashConstBytes, usedConstantTensors } from '../plan/flash.ts';
import type { TrainingAnalysis, TrainParamInfo } from '../train/analyze_training.ts';

export interface EmitOptions {
  target: Target;
  modelName: string;
  /** First 8 bytes of the SHA-256 of the .tflite file: the device reports it so a host never talks to the wrong build. */
  modelHash: Uint8Array;
  buildId: string;
  version: string;
  /** Present when compiling with a training scheme. */
  training?: TrainingAnalysis;
  /** The inference calls in the order they run, when it is not `calls` (the early stage run patch by patch). */
  schedule?: KernelCall[];
}

export interface GeneratedFile {
  path: string;
  contents: string;
}

/** C element type and model.h dtype tag of a tensor type stored as a constant or passed at the I/O. */
const C_TYPES: Partial<Record<DType, { ctype: CScalarType; tag: string }>> = {
  int8: { ctype: 'int8_t', tag: 'MT_INT8' },
  uint8: { ctype: 'uint8_t', tag: 'MT_UINT8' },
  int16: { ctype: 'int16_t', tag: 'MT_INT16' },
  int32: { ctype: 'int32_t', tag: 'MT_INT32' },
  float32: { ctype: 'float', tag: 'MT_FLOAT32' },
};

function cTypeOf(t: Tensor): { ctype: CScalarType; tag: string } {
  const c = C_TYPES[t.dtype];
  if (!c) throw new McutrainError(`tensor '${t.name}' has type ${t.dtype}, which the engine cannot store`, 'use int8 activations/weights, int32 biases');
  return c;
}

const weightName = (id: number) => `mt_const_t${id}`;
const paramName = (id: number) => `mt_param_t${id}`;
const momentumName = (id: number) => `mt_momentum_t${id}`;
const splitName = (id: number) => `mt_split_t${id}`;
/** The narrow gradients' exponent table (int8_t, one entry per gradient tensor), declared by templates/partials/training.hbs. */
const GRAD_EXP_TABLE = 'mt_grad_exp';
/** The integer engine's first xorshift32 state (any non-zero value; the same on every build, so host and boards draw alike). */
const INT_RNG_SEED = 0x2545f491;
/** C expressions of the training step's variables (the parameters and result of mt_train_run in training.hbs). */
const STEP_VARIABLES = { label: 'label', predicted: '&result->predicted' } as const;

/**
 * The link's receive buffer (mt_link_buffers.rx): none. INFER, TRAIN_STEP and EVALUATE payloads are staged
 * straight into the arena's input tensors (docs/protocol.md), and every other request fits the link's own
 * small-frame buffer (a WRITE_PARAMS then carries 256 B, as many frames as staging 4 KiB in CHUNKs would take).
 */
export const LINK_RECEIVE_BYTES = 0;

export function emitC(inferenceGraph: Graph, calls: KernelCall[], plan: MemoryPlan, opts: EmitOptions): GeneratedFile[] {
  const training = opts.training;
  // The training graph holds every inference tensor under the same id, plus the gradients.
  const graph = training?.graph ?? inferenceGraph;
  const trained = new Map<number, TrainParamInfo>((training?.params ?? []).map((p) => [p.tensor, p]));
  const dimsDefs: { name: string; values: string }[] = [];
  const schedule = opts.schedule ?? calls;

  /** C name of a constant or struct of `call`, or of the forward call of operator `owner` (which must define it). */
  function definitionName(call: KernelCall, arg: { kind: 'const' | 'struct'; name: string; owner?: number }): string {
    if (arg.owner === undefined) return `${call.name ?? `op${call.op}`}_${arg.name}`;
    const owner = calls.find((c) => c.op === arg.owner && c.name === undefined);
    const defined = arg.kind === 'const' ? owner?.consts.some((c) => c.name === arg.name)
      : owner?.structs.some((s) => s.name === arg.name) && schedule.includes(owner);
    if (!defined) throw new Error(`${call.name ?? `op${call.op}`} (${call.fn}) reads ${arg.kind} '${arg.name}' of op ${arg.owner}, which does not define it`);
    return `op${arg.owner}_${arg.name}`;
  }

  /** The C statement of one call (null for an alias), with tensor addresses from `callPlan`. */
  function statement(call: KernelCall, callPlan: MemoryPlan, step: number): string | null {
    return call.fn ? `${call.fn}(${renderArgs(call, callPlan, step).join(', ')});` : null;
  }

  /** The C arguments of one call; `step` is its index in the schedule `callPlan` was made for. */
  function renderArgs(call: KernelCall, callPlan: MemoryPlan, scratchIndex: number): string[] {
    const prefix = call.name ?? `op${call.op}`;
    return call.args.map((arg, i) => renderArg(arg, i));
    function tensorPointer(t: Tensor): string {
      if (trained.has(t.id)) return `(void *)${paramName(t.id)}`;
      if (t.data) return `(const void *)${weightName(t.id)}`;
      const offset = callPlan.tensorOffset.get(t.id);
      if (offset === undefined) throw new Error(`tensor ${t.id} '${t.name}' has no arena offset`);
      return `(void *)(mt_arena + ${offset})`;
    }
    function renderArg(arg: KernelArg, i: number): string {
      switch (arg.kind) {
        case 'tensor': {
          const t = graph.tensors[arg.tensor];
          return arg.onlyWhenUpdating ? `update ? (${cTypeOf(t).ctype} *)${tensorPointer(t)} : NULL` : tensorPointer(t);
        }
        case 'const': return definitionName(call, arg);
        case 'struct': return `&${definitionName(call, arg)}`;
        case 'scratch': return `(void *)(mt_arena + ${callPlan.scratchOffset.get(scratchIndex)})`;
        case 'null': return 'NULL';
        case 'int': return cInt(arg.value);
        case 'float': return cFloat(arg.value);
        case 'grad_exponent': return `&${GRAD_EXP_TABLE}[${arg.entry}]`;
        case 'step_variable': return STEP_VARIABLES[arg.name];
        case 'dims': {
          const name = `${prefix}_dims${i}`;
          if (!dimsDefs.some((d) => d.name === name)) dimsDefs.push({ name, values: arg.values.map(cInt).join(', ') });
          return `&${name}`;
        }
        case 'sgd': return '&mt_sgd_state';
        case 'momentum': {
          const p = trained.get(arg.tensor);
          return p && p.momentumFloats > 0 ? momentumName(arg.tensor) : 'NULL';
        }
        case 'split_filter': return `&${splitName(arg.tensor)}`;
      }
    }
  }

  /** The arguments of a call of a patch loop: each as C, and how it can vary from one patch to the next. */
  function loopArgs(call: KernelCall, callPlan: MemoryPlan, step: number): LoopArg[] {
    const prefix = call.name ?? `op${call.op}`;
    const texts = renderArgs(call, callPlan, step);
    return call.args.map((arg, i): LoopArg => {
      const text = texts[i];
      const plain = { text, key: text };
      switch (arg.kind) {
        case 'tensor':
        case 'scratch': {
          const t = arg.kind === 'tensor' ? graph.tensors[arg.tensor] : undefined;
          if (t && (trained.has(t.id) || t.data || arg.kind === 'tensor' && arg.onlyWhenUpdating)) return plain;
          const offset = t ? callPlan.tensorOffset.get(t.id) : callPlan.scratchOffset.get(step);
          if (offset === undefined) throw new Error(`${prefix}: argument ${i} has no arena offset`);
          return { text, key: text, int: { value: offset, read: (f) => `(void *)(mt_arena + ${f})` } };
        }
        case 'int': return { text, key: text, int: { value: arg.value, read: (f) => f } };
        case 'dims': {
          const values = arg.values.map(cInt).join(', ');
          return { text, key: `mt_dims4 ${values}`, entry: { ctype: 'mt_dims4', init: `{ ${values} }` }, defines: `${prefix}_dims${i}` };
        }
        case 'struct': {
          const st = arg.owner === undefined ? call.structs.find((x) => x.name === arg.name) : undefined;
          if (!st) return plain;
          const init = `{ ${structInitializers(st).map((f) => `.${f.name} = ${f.value}`).join(', ')} }`;
          return { text, key: `${st.ctype} ${init}`, entry: { ctype: st.ctype, init }, defines: `${prefix}_${st.name}` };
        }
        default: return plain;
      }
    });
  }
  /** Definitions (dims, structs) of patch calls that some loop points to; a loop's other patches share them. */
  const loopDefines = new Set<string>();
  const loopedCalls = new Set<KernelCall>();
  const patchArrays: PatchArrays = new Map();
  /** The schedule `list` (steps of `callPlan`) as statements and patch loops; `id` names the loops' tables. */
  function scheduleItems<T>(list: KernelCall[], callPlan: MemoryPlan, id: string, one: (c: ScheduledCall) => T): { items: (T | { loop: PatchLoopC })[]; loops: PatchLoopC[] } {
    const loops: PatchLoopC[] = [];
    const items = withPatchLoops(list).map((item) => {
      if (!('loop' in item)) return one(item);
      const first = item.loop.patches[0].map(({ call }) => call);
      const loop = patchLoopC(`${id}${loops.length}`, first.map((c) => c.fn!), first.map((c) => ({ index: c.op, kind: graph.operators[c.op].kind })),
        item.loop.patches.map((patch) => patch.map(({ call, step }) => loopArgs(call, callPlan, step))), patchArrays);
      loop.defines.forEach((d) => loopDefines.add(d));
      item.loop.patches.flat().forEach(({ call }) => loopedCalls.add(call));
      loops.push(loop);
      return { loop };
    });
    return { items, loops };
  }

  const describe = (ids: number[]) => ids.filter((t) => t >= 0).map((t) => {
    const x = graph.tensors[t];
    return `${cComment(x.name)} [${x.shape.join('x')}] ${x.dtype}`;
  }).join(', ');
  /** Definitions (constants, structs) of a call; each call's own, never repeated. */
  const definitions = (call: KernelCall, title: string, io: { inputs: number[]; outputs: number[] }) => {
    const prefix = call.name ?? `op${call.op}`;
    return {
      title,
      inputs: describe(io.inputs),
      outputs: describe(io.outputs),
      consts: call.consts.map((c) => ({ name: `${prefix}_${c.name}`, ctype: c.ctype, length: c.values.length, lines: cArrayLines(c.ctype, c.values) })),
      structs: call.structs.map((st) => ({ name: `${prefix}_${st.name}`, ctype: st.ctype, fields: structInitializers(st, prefix) })),
      aliasNote: call.aliases?.length ? 'output shares the input buffer (no copy)' : '',
    };
  };

  // Statements first: rendering them registers the dims constants the definitions then hold.
  const invoke = scheduleItems(schedule, plan, 'mt_stage', ({ call, step }) => {
    const op = graph.operators[call.op];
    return { statement: statement(call, plan, step), index: call.op, kind: op.kind, aliasNote: call.aliases?.length ? 'output shares the input buffer (no copy)' : '' };
  });
  // Definitions: every operator's call, and the calls only the schedule has (patches of the early stage).
  const definedCalls = [...calls, ...schedule.filter((c) => !calls.includes(c))];
  const dimsOf = (call: KernelCall) => {
    const prefix = `${call.name ?? `op${call.op}`}_dims`;
    return dimsDefs.filter((d) => d.name.startsWith(prefix) && /^\d+$/.test(d.name.slice(prefix.length)));
  };

  let trainView: Record<string, unknown> | undefined;
  if (training) {
    const tp = training.plan;
    // Steps of the training schedule: forward calls, the loss, backward calls.
    const lossStep = training.forwardCalls.length;
    const forward = scheduleItems(training.forwardCalls, tp, 'mt_train_stage', ({ call: c, step }) => {
      const s = statement(c, tp, step);
      return { statement: c.onlyWhenUpdating ? `if (update) ${s}` : s, kind: graph.operators[c.op].kind, index: c.op };
    });
    const backwardDefs = training.backwardCalls.map((c, i) => {
      const stmt = statement(c, tp, lossStep + 1 + i);
      const def = definitions(c, `${c.name}: ${c.fn} (backward of op ${c.op} ${graph.operators[c.op]?.kind ?? ''})`, c.tensors ?? { inputs: [], outputs: [] });
      return { ...def, dims: dimsOf(c), statement: stmt };
    });
    // The loss's own arguments, then the step's variables (label, predicted class) on a line of their own.
    const lossArgs = renderArgs(training.lossCall, tp, lossStep);
    const stepArgsFrom = training.lossCall.args.findIndex((a) => a.kind === 'step_variable');
    if (stepArgsFrom < 0) throw new Error(`the loss call ${training.lossCall.fn} takes no label`);
    const input = graph.tensors[training.tg.graph.inputs[0]];
    trainView = {
      scheme: cComment(training.schemeText),
      forward: forward.items,
      loops: forward.loops,
      backward: backwardDefs,
      loss: { fn: training.lossCall.fn, args: lossArgs.slice(0, stepArgsFrom).join(', '), stepArgs: lossArgs.slice(stepArgsFrom).join(', ') },
      // the loss's own constants (the integer engine's softmax parameters; the float losses have none)
      lossDefs: training.lossCall.consts.length + training.lossCall.structs.length > 0
        ? { ...definitions(training.lossCall, `loss: ${training.lossCall.fn}`, training.lossCall.tensors ?? { inputs: [], outputs: [] }), dims: [] } : undefined,
      gradExpTable: GRAD_EXP_TABLE,
      gradExponents: training.gradExponents,
      classes: training.tg.classes,
      inputOffset: tp.tensorOffset.get(input.id),
      inputBytes: tensorBytes(input),
      integer: training.tg.scheme.arith === 'int',
      rngSeed: INT_RNG_SEED,
      lr: cFloat(training.tg.scheme.lr),
      momentum: cFloat(training.tg.scheme.momentum),
      params: training.params.map((p) => ({
        name: cString(p.name), tag: p.dtype === 'int8' ? 'MT_INT8' : 'MT_INT32', bytes: p.bytes, data: paramName(p.tensor),
        momentum: p.momentumFloats > 0 ? momentumName(p.tensor) : 'NULL', momentumFloats: p.momentumFloats,
      })),
      momentumBuffers: training.params.filter((p) => p.momentumFloats > 0).map((p) => ({ name: momentumName(p.tensor), floats: p.momentumFloats })),
      arenaBytes: tp.arenaBytes,
      lowerBoundBytes: tp.lowerBoundBytes,
    };
  }

  const ops = definedCalls.map((call) => {
    const op = graph.operators[call.op];
    const title = call.name ? `${call.name}: op ${call.op} ${op.kind}${call.fn === 'mt_copy_region_s8' ? ' (window copy)' : ' on a patch'}` : `op ${call.op}: ${op.kind}`;
    const def = definitions(call, title, call.tensors ?? op);
    // An operator run only as patches keeps its constants (the patches share them) but not its parameter struct;
    // a patch in a loop defines only the dims and structs the loop's table points to.
    const looped = loopedCalls.has(call);
    const structs = !schedule.includes(call) ? [] : looped ? def.structs.filter((st) => loopDefines.has(st.name)) : def.structs;
    const dims = looped ? dimsOf(call).filter((d) => loopDefines.has(d.name)) : dimsOf(call);
    return { ...def, structs, dims, index: call.op, kind: op.kind, empty: looped && structs.length === 0 && dims.length === 0 };
  }).filter((o) => !o.empty);

  const splits: { name: string; trained: string; frozen: string; rows: number; cols: number }[] = [];
  const weights = usedConstantTensors(graph, [...calls, ...(training?.backwardCalls ?? [])]).flatMap((id) => {
    const t = graph.tensors[id];
    const isTrained = trained.has(id);
    const slice = trained.get(id)?.slice;
    const shape = `${t.name} [${t.shape.join('x')}]`;
    if (slice) {
      // Only the trained block in SRAM, the rest in Flash (an mt_split_filter joins them).
      const { block, rest } = splitBlock(t.data!, slice);
      splits.push({ name: splitName(id), trained: paramName(id), frozen: weightName(id), rows: slice.rows, cols: slice.cols });
      const array = (name: string, qualifier: string, values: Uint8Array, what: string) => {
        const v = new Int8Array(values.buffer, values.byteOffset, values.length);
        return { name, qualifier, ctype: 'int8_t' as const, length: v.length, comment: cComment(`${shape}, ${what}`), lines: cArrayLines('int8_t', v) };
      };
      return [array(paramName(id), '', block, `trained block ${slice.rows}x${slice.cols} of rows of ${slice.rowSize}: in SRAM`),
        array(weightName(id), 'const ', rest, 'the frozen rest')];
    }
    // int4 weights stay packed two per byte, as the _s4w kernels read them (and as the .tflite holds them).
    const { ctype, values } = t.dtype === 'int4'
      ? { ctype: 'uint8_t' as const, values: Uint8Array.from(t.data ?? []) }
      : { ctype: cTypeOf(t).ctype, values: constantValues(t) };
    return [{
      name: isTrained ? paramName(id) : weightName(id), qualifier: isTrained ? '' : 'const ', ctype, length: values.length,
      comment: cComment(`${shape}${isTrained ? ', trained: in SRAM' : ''}`), lines: cArrayLines(ctype, values),
    }];
  });
  const constBytes = flashConstBytes(graph, [...calls, ...(training?.backwardCalls ?? [])]);

  const io = (ids: number[]) => ids.map((id) => {
    const t = graph.tensors[id];
    const offset = plan.tensorOffset.get(id);
    if (offset === undefined) throw new McutrainError(`model input/output '${t.name}' is a constant`, 'the engine needs activation tensors at its inputs and outputs');
    const q = t.quant;
    const dimsPadded = [...t.shape, 0, 0, 0, 0, 0, 0].slice(0, 6);
    if (t.shape.length > 6) throw new McutrainError(`tensor '${t.name}' has rank ${t.shape.length}; at most 6 is supported`);
    return {
      name: cString(t.name),
      tag: cTypeOf(t).tag,
      rank: t.shape.length,
      dims: dimsPadded.map(cInt).join(', '),
      bytes: tensorBytes(t),
      scale: cFloat(q?.scale[0] ?? 0),
      zeroPoint: cInt(q?.zeroPoint[0] ?? 0),
      offset,
      elements: elementCount(t.shape),
    };
  });

  const view = {
    ...targetView(opts.target),
    version: opts.version,
    modelName: cComment(opts.modelName),
    buildId: cString(opts.buildId),
    modelHash: Array.from(opts.modelHash.slice(0, 8), (b) => `0x${b.toString(16).padStart(2, '0')}`).join(', '),
    arenaBytes: Math.max(plan.arenaBytes, training?.plan.arenaBytes ?? 0, 16),
    lowerBoundBytes: Math.max(plan.lowerBoundBytes, training?.plan.lowerBoundBytes ?? 0),
    inferenceArenaBytes: plan.arenaBytes,
    constBytes,
    ops,
    invoke: invoke.items,
    loops: invoke.loops,
    patchArrays: patchArraysC(patchArrays),
    opInfo: calls.map((c) => ({ kind: graph.operators[c.op].kind, macs: c.macs })),
    nOps: calls.length,
    rxBytes: LINK_RECEIVE_BYTES,
    training: trainView ?? null,
    inputs: io(graph.inputs),
    outputs: io(graph.outputs),
    weights,
    splits,
  };

  const files = [
    { path: 'model.c', contents: renderTemplate('model.c.hbs', view) },
    { path: 'model_weights.c', contents: renderTemplate('model_weights.c.hbs', view) },
    { path: 'model_weights.h', contents: renderTemplate('model_weights.h.hbs', view) },
    { path: 'Makefile', contents: renderTemplate(`Makefile.${opts.target.makefile ?? opts.target.platform}.hbs`, view) },
  ];
  if (opts.target.kind === 'mcu') files.push({ path: 'linker.ld', contents: renderTemplate('linker.ld.hbs', view) });
  return files;
}
