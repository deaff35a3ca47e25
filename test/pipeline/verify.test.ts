/**
 * The pipeline's verifier: the reference workloads pass it after every pass (inference, a training
 * step with split layers and in-place updates, the early stage as patches), and each kind of broken IR
 * it exists to catch is caught, named by its pass: buffers live at once that overlap, arguments that do
 * not resolve, shapes no tensor of the call has, reads before writes, tensors without a place, aliases
 * of different sizes.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyzeModel, type Analysis } from '../../src/pipeline/pipeline.ts';
import { callProblems, ownersOf, planProblems, verifyAnalysis, VerifyError, verifyRequested } from '../../src/pipeline/verify.ts';
import type { KernelCall } from '../../src/lower/kernel_call.ts';
import type { MemoryPlan } from '../../src/plan/plan_memory.ts';
import { parseScheme } from '../../src/train/scheme.ts';
import { model } from '../helpers/paths.ts';

const VWW = new Uint8Array(readFileSync(model('vww96_int8.tflite')));
const SCHEME = parseScheme('bias:last=17,weights:layers=27'); // in-place depthwise input gradients: calls with scratch

/** A deep enough copy of a plan to break: buffers and offset maps are fresh. */
const copyPlan = (p: MemoryPlan): MemoryPlan => ({
  ...p, buffers: p.buffers.map((b) => ({ ...b, tensors: [...b.tensors] })), tensorOffset: new Map(p.tensorOffset), scratchOffset: new Map(p.scratchOffset),
});
const boundary = (a: Analysis) => ({ liveIn: a.graph.inputs, liveOut: a.graph.outputs });

describe('pipeline verifier', () => {
  const inference = analyzeModel(VWW, 'vww96', 'tflm', undefined, { verify: true });
  const training = analyzeModel(VWW, 'vww96', 'tflm', SCHEME, { verify: true, patches: 'auto' });

  it('passes the reference workloads after every pass', () => {
    expect(training.patches?.grid).toBeGreaterThan(1); // the patch layout was chosen and checked
    expect(training.training!.backwardCalls.length).toBeGreaterThan(0);
    for (const a of [inference, training]) {
      expect(callProblems(a.graph, a.schedule, ownersOf(a))).toEqual([]);
      expect(planProblems(a.graph, a.schedule, a.plan, boundary(a))).toEqual([]);
    }
    const t = training.training!;
    expect(callProblems(t.graph, t.schedule, ownersOf(training))).toEqual([]);
    expect(planProblems(t.graph, t.schedule, t.plan, { liveIn: training.graph.inputs, liveOut: [] })).toEqual([]);
  });

  it('finds two buffers live at the same time that overlap in the arena', () => {
    const t = training.training!;
    const plan = copyPlan(t.plan);
    const [a, b] = plan.buffers.filter((x) => x.tensors.length > 0 && x.firstStep <= 3 && x.lastStep >= 3 && x.bytes > 0);
    b.offset = a.offset;
    for (const id of b.tensors) plan.tensorOffset.set(id, a.offset);
    const problems = planProblems(t.graph, t.schedule, plan, { liveIn: training.graph.inputs, liveOut: [] });
    expect(problems.some((p) => p.includes('overlaps') && p.includes(t.graph.tensors[a.tensors[0]].name) && p.includes(t.graph.tensors[b.tensors[0]].name))).toBe(true);
  });

  it('finds a tensor without a place, a buffer that dies before its last use, and scratch missing', () => {
    const a = inference;
    const noPlace = copyPlan(a.plan);
    const [tensor] = noPlace.buffers.find((b) => b.tensors.length > 0 && b.firstStep > 0)!.tensors;
    noPlace.tensorOffset.delete(tensor);
    expect(planProblems(a.graph, a.schedule, noPlace, boundary(a))).toContain(`${a.graph.tensors[tensor].name}, used at step ${a.plan.buffers.find((b) => b.tensors.includes(tensor))!.firstStep}, has no place in the arena`);

    const shortLived = copyPlan(a.plan);
    const b = shortLived.buffers.find((x) => x.tensors.length > 0 && x.lastStep > x.firstStep)!;
    b.lastStep = b.firstStep;
    expect(planProblems(a.graph, a.schedule, shortLived, boundary(a)).join('\n')).toMatch(/outside its buffer's life/);

    const t = training.training!;
    const step = t.schedule.findIndex((c) => c.scratchBytes > 0);
    expect(step).toBeGreaterThanOrEqual(0);
    const noScratch = copyPlan(t.plan);
    noScratch.buffers = noScratch.buffers.filter((x) => x.scratchOf !== step);
    expect(planProblems(t.graph, t.schedule, noScratch, { liveIn: training.graph.inputs, liveOut: [] }))
      .toContain(`step ${step} needs ${t.schedule[step].scratchBytes} B of scratch, which the plan does not give it`);
  });

  it('finds arguments that do not resolve: a missing struct, constant or tensor', () => {
    const a = inference;
    const step = a.schedule.findIndex((c) => c.structs.length > 0 && c.consts.length > 0);
    const broken = (change: (c: KernelCall) => KernelCall) => a.schedule.map((c, i) => (i === step ? change(c) : c));
    const c = a.schedule[step];
    const struct = c.args.find((x) => x.kind === 'struct')!;
    const withoutStruct = broken((x) => ({ ...x, structs: [] }));
    expect(callProblems(a.graph, withoutStruct).join('\n')).toContain(`argument names struct ${'name' in struct ? struct.name : ''}, which the call does not define`);
    const withoutConsts = broken((x) => ({ ...x, consts: [] }));
    expect(callProblems(a.graph, withoutConsts).join('\n')).toMatch(/argument names constant \S+, which the call does not define/);
    const badTensor = broken((x) => ({ ...x, args: [...x.args, { kind: 'tensor', tensor: a.graph.tensors.length }] }));
    expect(callProblems(a.graph, badTensor).join('\n')).toContain(`argument names tensor ${a.graph.tensors.length}, which does not exist`);
  });

  it('finds a struct of another operator\'s call that is not emitted: a backward call reading a patched operator\'s parameters', () => {
    const t = training.training!;
    const step = t.schedule.findIndex((c) => c.args.some((x) => x.kind === 'struct' && x.owner !== undefined));
    const arg = t.schedule[step].args.find((x) => x.kind === 'struct' && x.owner !== undefined)!;
    const owner = 'owner' in arg ? arg.owner! : -1;
    expect(callProblems(t.graph, t.schedule, ownersOf(training))).toEqual([]);
    const unscheduled = { ...ownersOf(training), structs: ownersOf(training).structs.filter((c) => c.op !== owner) };
    expect(callProblems(t.graph, t.schedule, unscheduled).join('\n')).toContain(`argument names struct ${'name' in arg ? arg.name : ''} of op ${owner}, which no emitted call of that operator defines`);
  });

  it('finds a shape given to a kernel that is no tensor\'s it reads or writes', () => {
    const a = inference;
    const step = a.schedule.findIndex((c) => c.args.some((x) => x.kind === 'dims'));
    const wrong = a.schedule.map((c, i) => (i !== step ? c : {
      ...c, args: c.args.map((x) => (x.kind === 'dims' ? { ...x, values: x.values.map((d, j) => (j === 3 ? d + 1 : d)) } : x)),
    }));
    expect(callProblems(a.graph, wrong).join('\n')).toMatch(new RegExp(`^step ${step} .*: dims \\[[0-9,]+\\] match no tensor the call reads or writes`, 'm'));
  });

  it('finds a read before any write, and an alias between tensors of different sizes', () => {
    const a = inference;
    const swapped = [a.schedule[1], a.schedule[0], ...a.schedule.slice(2)];
    const produced = a.graph.operators[a.schedule[0].op].outputs[0];
    expect(callProblems(a.graph, swapped).join('\n')).toContain(`reads ${a.graph.tensors[produced].name} before any call writes it`);

    const [input, output] = [a.graph.inputs[0], a.graph.outputs[0]];
    const aliased = a.schedule.map((c, i) => (i === a.schedule.length - 1 ? { ...c, aliases: [{ output, input }] } : c));
    expect(callProblems(a.graph, aliased).join('\n')).toMatch(/alias .* shares the memory of/);
  });

  it('throws naming the pass, and is on when MCUTRAIN_VERIFY=1', () => {
    const plan = copyPlan(inference.plan);
    plan.tensorOffset.clear();
    expect(() => verifyAnalysis({ ...inference, plan }, 'plan')).toThrow(VerifyError);
    expect(() => verifyAnalysis({ ...inference, plan }, 'plan')).toThrow(/^pipeline verifier, after pass plan: .*has no place in the arena/);
    const saved = process.env.MCUTRAIN_VERIFY;
    expect(saved, 'vitest.config.ts turns verification on for every test').toBe('1');
    try {
      process.env.MCUTRAIN_VERIFY = '1';
      expect(verifyRequested()).toBe(true);
      delete process.env.MCUTRAIN_VERIFY;
      expect(verifyRequested()).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.MCUTRAIN_VERIFY;
      else process.env.MCUTRAIN_VERIFY = saved;
    }
  });
});
