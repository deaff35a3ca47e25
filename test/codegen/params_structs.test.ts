/**
 * The params struct schemas (src/lower/params_structs.ts) against the C headers they describe, and the
 * renderer's refusals: a struct generated with a field missing, extra or of the wrong kind never reaches C.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { structInitializers } from '../../src/codegen/params_c.ts';
import { emitC } from '../../src/codegen/emit_c.ts';
import { type CStruct, type FieldType, PARAMS_STRUCTS, type ParamsType, paramsSchema, paramsStruct } from '../../src/lower/params_structs.ts';
import { lowerGraph } from '../../src/lower/lower.ts';
import { planMemory } from '../../src/plan/plan_memory.ts';
import { loadTarget } from '../../src/targets/target.ts';
import { GraphBuilder } from '../lower/graph_builder.ts';
import { REPO } from '../helpers/paths.ts';

const INCLUDE = path.join(REPO, 'firmware/include');

/** Every header under firmware/include, comments removed. */
function headers(): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.h')) out.push({ file: path.relative(INCLUDE, p), text: readFileSync(p, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '') });
    }
  };
  walk(INCLUDE);
  return out;
}

/** `typedef struct { ... } name;` of the headers: fields in order, their types as written (`int32_t`, `const int8_t*`, `int32_t[LENGTH]`). */
function typedefStructs(): Map<string, { file: string; fields: { name: string; type: string }[] }> {
  const structs = new Map<string, { file: string; fields: { name: string; type: string }[] }>();
  for (const { file, text } of headers()) {
    for (const m of text.matchAll(/typedef\s+struct(?:\s+\w+)?\s*\{([^{}]*)\}\s*(\w+)\s*;/g)) {
      const fields = m[1].split(';').map((d) => d.trim()).filter(Boolean).flatMap((decl) => {
        const fn = /\(\s*\*\s*(\w+)\s*\)\s*\(/.exec(decl);
        if (fn) return [{ name: fn[1], type: 'function pointer' }];
        const base = /^((?:const\s+)?\w+)\s+(.*)$/s.exec(decl);
        if (!base) throw new Error(`${file}: cannot read declaration '${decl}'`);
        return base[2].split(',').map((d) => {
          const one = /^(\**)\s*(\w+)\s*(?:\[\s*(\w+)\s*\])?$/.exec(d.trim());
          if (!one) throw new Error(`${file}: cannot read declarator '${d}'`);
          return { name: one[2], type: `${base[1]}${one[1]}${one[3] ? `[${one[3]}]` : ''}` };
        });
      });
      structs.set(m[2], { file, fields });
    }
  }
  return structs;
}

/** Enumerators the headers declare (typedef enum and anonymous enum). */
function enumerators(): Set<string> {
  const names = new Set<string>();
  for (const { text } of headers()) {
    for (const m of text.matchAll(/enum(?:\s+\w+)?\s*\{([^}]*)\}/g)) {
      for (const e of m[1].split(',')) {
        const name = /^\s*(\w+)/.exec(e)?.[1];
        if (name) names.add(name);
      }
    }
  }
  return names;
}

const defines = (): Map<string, string> =>
  new Map(headers().flatMap(({ text }) => [...text.matchAll(/^#define\s+(\w+)\s+(\S+)\s*$/gm)].map((m) => [m[1], m[2]] as [string, string])));

/** The C declaration type a schema field stands for. */
const declaredType = (t: FieldType): string => ('length' in t ? `${t.ctype}[${t.length}]` : t.ctype);

describe('params struct schemas against firmware/include', () => {
  const structs = typedefStructs();

  it('reads the headers: every kernel params struct and mt_dims4', () => {
    expect(structs.get('mt_dims4')?.fields).toEqual(['n', 'h', 'w', 'c'].map((name) => ({ name, type: 'int32_t' })));
    expect(structs.get('mt_split_filter')?.fields.map((f) => f.type)).toEqual(['const int8_t*', 'const int8_t*', 'int32_t', 'int32_t']);
  });

  it.each(Object.keys(PARAMS_STRUCTS) as ParamsType[])('%s: the same fields, types and order as its typedef', (ctype) => {
    const header = structs.get(ctype);
    expect(header, `no typedef struct ${ctype} in firmware/include`).toBeDefined();
    expect(paramsSchema(ctype).map(([name, t]) => ({ name, type: declaredType(t) }))).toEqual(header!.fields);
  });

  it('has a schema for every params struct the kernel headers declare', () => {
    const declared = [...structs.keys()].filter((name) => name.endsWith('_params'));
    expect(declared.length).toBeGreaterThanOrEqual(11);
    expect(declared.filter((name) => !(name in PARAMS_STRUCTS))).toEqual([]);
  });

  it('names only enumerators the headers declare, and array lengths the headers define', () => {
    const known = enumerators();
    const macros = defines();
    for (const ctype of Object.keys(PARAMS_STRUCTS) as ParamsType[]) {
      for (const [name, t] of paramsSchema(ctype)) {
        if ('members' in t) expect(t.members.filter((m) => !known.has(m)), `${ctype}.${name}`).toEqual([]);
        if ('length' in t) expect(macros.get(t.length), `${ctype}.${name}: #define ${t.length}`).toBe(String(t.capacity));
      }
    }
  });
});

describe('rendering a params struct', () => {
  const mean = paramsStruct('mt_mean_params', {
    mode: 'MT_MEAN_REQUANTIZE', input_zero_point: -128, output_zero_point: 3, multiplier: 1 << 30, shift: -5, scale: 0, bias: 1.5,
  });

  it('writes every field in header order as its declared type', () => {
    // a float field holding an integer is still a float literal; an enum field its member's name
    expect(structInitializers(mean)).toEqual([
      { name: 'mode', value: 'MT_MEAN_REQUANTIZE' }, { name: 'input_zero_point', value: '-128' }, { name: 'output_zero_point', value: '3' },
      { name: 'multiplier', value: '1073741824' }, { name: 'shift', value: '-5' }, { name: 'scale', value: '0.00000000f' }, { name: 'bias', value: '1.50000000f' },
    ]);
    const pad = paramsStruct('mt_pad_params', { after: { n: 0, h: 2, w: 1, c: 0 }, before: { n: 0, h: 1, w: 0, c: 3 }, pad_value: -1 });
    expect(structInitializers(pad).map((f) => `.${f.name} = ${f.value}`)).toEqual([
      '.before = { .n = 0, .h = 1, .w = 0, .c = 3 }', '.after = { .n = 0, .h = 2, .w = 1, .c = 0 }', '.pad_value = -1',
    ]);
    expect(structInitializers(paramsStruct('mt_concatenation_params', { outer_count: 4, slice_sizes: [3, 5] }))[1].value).toBe('{ 3, 5 }');
  });

  // What the types rule out, arriving anyway (from untyped code): each stops codegen, naming the field.
  const broken = (fields: Record<string, unknown>): CStruct => ({ ...mean, fields: { ...mean.fields, ...fields } }) as CStruct;
  it.each([
    ['a missing field', () => { const { bias: _, ...rest } = mean.fields; return { ...mean, fields: rest } as unknown as CStruct; }, /mt_mean_params params\.bias is not set/],
    ['an extra field', () => broken({ rounding: 'MT_ROUND_DOUBLE' }), /has no field rounding/],
    ['an enum value its field does not take', () => broken({ mode: 'MT_ROUND_SINGLE' }), /\.mode = MT_ROUND_SINGLE: not one of MT_MEAN_DIVIDE/],
    ['a fraction in an int32_t field', () => broken({ shift: 0.5 }), /\.shift = 0.5: not an int32_t/],
    ['an int32_t out of range', () => broken({ multiplier: 2 ** 31 }), /\.multiplier = 2147483648: not an int32_t/],
    ['too many array elements', () => paramsStruct('mt_concatenation_params', { outer_count: 1, slice_sizes: Array(11).fill(1) }), /at most 10 values \(MT_CONCATENATION_MAX_INPUTS\)/],
  ])('refuses %s', (_, make, message) => {
    expect(() => structInitializers(make())).toThrow(message);
  });
});

describe('typed kernel arguments', () => {
  // A 1-operator model: an ADD, whose call takes its params struct.
  function addModel() {
    const b = new GraphBuilder();
    const x = b.activation('x', [1, 4], 0.1, 0);
    const y = b.activation('y', [1, 4], 0.1, 0);
    const z = b.activation('z', [1, 4], 0.2, 0);
    b.op('ADD', [x, y], [z], { activation: 'NONE' });
    const graph = { ...b.graph(), inputs: [x, y], outputs: [z] };
    return { graph, calls: lowerGraph(graph) };
  }
  const emit = (graph: ReturnType<typeof addModel>['graph'], calls: ReturnType<typeof lowerGraph>) =>
    emitC(graph, calls, planMemory(graph, calls), { target: loadTarget('host'), modelName: 'm', modelHash: new Uint8Array(8), buildId: 'b', version: 'v' })
      .find((f) => f.path === 'model.c')!.contents;

  it('renders each kind as C: null, int, float, another call\'s struct and constants', () => {
    const { graph, calls } = addModel();
    const probe = {
      ...calls[0], name: 'probe', fn: 'mt_probe', structs: [], consts: [],
      args: [{ kind: 'null' }, { kind: 'int', value: -2147483648 }, { kind: 'float', value: 0.1 }, { kind: 'struct', name: 'params', owner: 0 }, { kind: 'struct', name: 'params' }],
    } satisfies ReturnType<typeof lowerGraph>[number];
    const c = emit(graph, [...calls, { ...probe, structs: [calls[0].structs[0]] }]);
    expect(c).toContain('mt_probe(NULL, (-2147483647 - 1), 0.100000001f, &op0_params, &probe_params);');
  });

  it('refuses a reference to a struct the owning call does not define', () => {
    const { graph, calls } = addModel();
    const probe = { ...calls[0], name: 'probe', fn: 'mt_probe', structs: [], consts: [], args: [{ kind: 'const' as const, name: 'mult', owner: 0 }] };
    expect(() => emit(graph, [...calls, probe])).toThrow(/probe \(mt_probe\) reads const 'mult' of op 0, which does not define it/);
  });
});
