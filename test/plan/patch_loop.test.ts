/**
 * The patched early stage in the generated C: a loop with one statement per call of a patch over a
 * const table of what varies between patches, not a statement (and structs) per call of every patch.
 * (Bit-exactness against the unpatched build: patch_stage.test.ts.)
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { compileModel } from '../../src/project/compile_project.ts';
import { withPatchLoops } from '../../src/plan/patch_loop.ts';
import { patchLayouts, WINDOW_COPY } from '../../src/plan/patch_stage.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import { lowerGraph } from '../../src/lower/lower.ts';
import type { KernelArg } from '../../src/lower/kernel_call.ts';
import { model, tempDir } from '../helpers/paths.ts';

const work = tempDir('patchloop');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The body of C function `name` in `c`. */
const body = (c: string, name: string) => {
  const from = c.indexOf(`${name}(`);
  return c.slice(from, c.indexOf('\n}\n', from));
};
/** Kernel call statements (mt_ functions; MT_OP_DONE is a macro). */
const kernelCalls = (code: string) => code.split('\n').filter((l) => /^\s+(if \(update\) )?mt_[a-z0-9_]+\(/.test(l)).length;
/** Bytes of a patch table on a 32-bit target: records of the typedef's fields, each record padded to its widest field. */
function tableBytes(c: string, record: string): number {
  const m = new RegExp(`typedef struct \\{\\n([^}]*)\\} ${record};`).exec(c);
  if (!m) throw new Error(`no ${record}`);
  const sizes = m[1].trim().split('\n').map((l) => (l.includes('*') ? 4 : Number(/int(\d+)_t/.exec(l)![1]) / 8));
  const align = Math.max(...sizes);
  const count = Number(new RegExp(`${record} ${record}es\\[(\\d+)\\]`).exec(c)![1]);
  return count * Math.ceil(sizes.reduce((a, b) => a + b, 0) / align) * align;
}

describe('patched early stage as a loop', () => {
  it('vww96: one statement per call of a patch, a 2.3 KB table instead of 64 copies of the stage', () => {
    const compile = (patches: 'auto' | 'off') => {
      const outDir = path.join(work, `vww-${patches}`);
      const r = compileModel({ modelPath: model('vww96_int8.tflite'), target: 'mps2-an500', outDir, patches });
      return { ...r, c: readFileSync(path.join(outDir, 'model.c'), 'utf8') };
    };
    const on = compile('auto');
    const off = compile('off');
    const patches = on.analysis.patches!.grid ** 2;
    expect(patches).toBe(64);
    const schedule = on.analysis.schedule;
    const [loop, ...rest] = withPatchLoops(schedule);
    if (!('loop' in loop)) throw new Error('the stage is not one loop');
    expect(loop.loop.patches).toHaveLength(patches);
    // A window copy into the first operator's input, the stage's 8 operators, the paste into the stage output.
    expect(loop.loop.patches[0].map(({ call }) => call.fn)).toEqual(['mt_copy_region_s8', ...off.analysis.calls.slice(0, 8).map((c) => c.fn)
      , 'mt_copy_region_s8']);
    expect(rest.every((item) => !('loop' in item))).toBe(true);
    // The C: as many call statements as the unpatched model plus the two copies, once.
    const invoke = body(on.c, 'void mt_model_invoke');
    expect(kernelCalls(invoke)).toBe(kernelCalls(body(off.c, 'void mt_model_invoke')) + 2);
    expect(invoke.match(/for \(uint32_t k = 0; k < 64u; k\+\+\)/g)).toHaveLength(1);
    // Each stage operator's ticks once per call of a patch (summed over the patches), every other once.
    expect(invoke.match(/MT_OP_DONE\(0\)/g)).toHaveLength(2);
    expect(invoke.match(/MT_OP_DONE\(7\)/g)).toHaveLength(2);
    expect(invoke.match(/MT_OP_DONE\(8\)/g)).toHaveLength(1);
    // The table: 64 records of 36 bytes (9 arena offsets as uint16_t; 17 uint8_t: copy windows, indices of dims and structs).
    expect(tableBytes(on.c, 'mt_stage0_patch')).toBe(2304);
    // Border patches differ in paddings and dims, interior ones (and equal calls) share them: 7 parameter
    // structs and 96 dims for the stage's 64 x 8 calls, where a struct and 3 dims per call were 512 and 1,536.
    expect(on.c.match(/^static const mt_\w+_params p\d+_op\d+_params /gm)).toHaveLength(3);
    expect(on.c).toMatch(/^static const mt_depthwise_conv_params mt_patch_depthwise_conv_params\[4\] /m);
    expect(on.c.match(/^static const mt_dims4 p\d+_/gm)).toHaveLength(9);
    expect(on.c).toMatch(/^static const mt_dims4 mt_patch_dims4\[87\] /m);
    expect(on.manifest.arenaBytes).toBe(38_576);
  });

  it('runs every layout of vww96 as a loop, deep stages whose first patch reads its input whole included', () => {
    const graph = importTflite(new Uint8Array(readFileSync(model('vww96_int8.tflite'))), 'vww96');
    const layouts = patchLayouts(graph, lowerGraph(graph));
    expect(layouts).toHaveLength(128);
    expect(layouts.filter((p) => !withPatchLoops(p.schedule).some((item) => 'loop' in item))).toEqual([]);
  });

  it('gives a patch that needs fewer window copies empty ones, and keeps patches running other calls as statements', () => {
    const call = (patch: number | undefined, fn: string, args: KernelArg[] = []) => ({ op: 0, fn, args, consts: [], structs: [], scratchBytes: 0, macs: 0, patch });
    const window = (rows: number): KernelArg[] => [{ kind: 'tensor', tensor: 1 }, { kind: 'int', value: 2 }, { kind: 'int', value: rows }, { kind: 'int', value: 5 }];
    const [loop] = withPatchLoops([call(0, 'conv'), call(1, WINDOW_COPY, window(3)), call(1, 'conv')]);
    if (!('loop' in loop)) throw new Error('no loop');
    expect(loop.loop.patches.map((p) => p.map(({ call: c }) => c.fn))).toEqual([[WINDOW_COPY, 'conv'], [WINDOW_COPY, 'conv']]);
    // The same tensors and offsets, no rows and no columns: it copies nothing.
    expect(loop.loop.patches[0][0].call.args).toEqual([...window(3).slice(0, 2), { kind: 'int', value: 0 }, { kind: 'int', value: 0 }]);

    const items = withPatchLoops([call(0, 'a'), call(0, 'b'), call(1, 'a'), call(1, 'b'), call(undefined, 'c')]);
    expect(items.map((i) => ('loop' in i ? 'loop' : i.call.fn))).toEqual(['loop', 'c']);
    const odd = withPatchLoops([call(0, 'a'), call(1, 'a'), call(1, 'b')]);
    expect(odd.map((i) => ('loop' in i ? 'loop' : i.step))).toEqual([0, 1, 2]);
  });
});
