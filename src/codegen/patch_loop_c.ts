/**
 * A patch loop (src/plan/patch_loop.ts) as C: one statement per call of a patch inside a loop over a
 * const table in Flash with one record per patch. An argument the same for every patch is written in
 * the statement; one that varies is a field of the record: an integer (a patch buffer's arena offset, a
 * copy's window) in the narrowest type its values fit, a dims or struct (a border patch's dims or
 * paddings) as the index of its value in an array of the loop's distinct values of that type.
 */

/** One argument of a call as C, with what the loop needs to know about it. */
export interface LoopArg {
  /** The argument as C when written in the statement. */
  text: string;
  /** Equal for two patches exactly when the argument has the same value in both. */
  key: string;
  /** An integer argument, or one read from an integer field (an arena offset): the value and the argument read from the field. */
  int?: { value: number; read: (field: string) => string };
  /** A dims or struct argument (a pointer to it): its C type and initializer, for the loop's array of them. */
  entry?: { ctype: string; init: string };
  /** The named dims or struct definition `text` points to, which must then be emitted. */
  defines?: string;
}

/** Integer types a field may take, narrowest first. */
const INT_TYPES: [ctype: string, min: number, max: number, bytes: number][] = [
  ['uint8_t', 0, 255, 1], ['int8_t', -128, 127, 1], ['uint16_t', 0, 65_535, 2], ['int16_t', -32_768, 32_767, 2],
  ['int32_t', -(2 ** 31), 2 ** 31 - 1, 4], ['uint32_t', 0, 2 ** 32 - 1, 4],
];

/**
 * The distinct dims and structs that fields index, one array per C type, shared by the loops of a model
 * (the inference and training schedules run the same patches).
 */
export type PatchArrays = Map<string, { ctype: string; name: string; entries: string[]; index: Map<string, number> }>;

/** The arrays as C definitions. */
export const patchArraysC = (arrays: PatchArrays) => [...arrays.values()].map(({ ctype, name, entries }) => ({ ctype, name, entries }));

/** A rendered loop: its record type and table (definitions), its statements, and the named definitions they point to. */
export interface PatchLoopC {
  record: string;
  table: string;
  count: number;
  /** The record's fields as C declarations (`uint16_t c1_a9`). */
  fields: string[];
  rows: string[];
  body: { statement: string; index: number; kind: string }[];
  defines: Set<string>;
}

/**
 * `args[k][j]` are the arguments of call j of patch k, `fns[j]` its kernel and `ops[j]` its operator
 * (index, kind); `id` names the table. Each record holds only the fields that vary; the dims and structs
 * they index go into `arrays`.
 */
export function patchLoopC(id: string, fns: string[], ops: { index: number; kind: string }[], args: LoopArg[][][], arrays: PatchArrays): PatchLoopC {
  // A column of the table: a field's values in patch order. Arguments with the same values in every patch
  // (a buffer's offset where one call writes it and the next reads it, say) share one field.
  const columns = new Map<string, { name: string; ctype: string; bytes: number; values: number[] }>();
  const defines = new Set<string>();
  // The first argument of the loop with each value stands for the others (its named definition is the
  // one emitted): patches, and calls of a patch, share equal dims and structs.
  const shown = new Map<string, LoopArg>();
  const column = (name: string, values: number[]): string => {
    const [ctype, , , bytes] = INT_TYPES.find(([, min, max]) => values.every((v) => v >= min && v <= max))!;
    const key = `${ctype} ${values.join(' ')}`;
    if (!columns.has(key)) columns.set(key, { name, ctype, bytes, values });
    return `p->${columns.get(key)!.name}`;
  };
  const body = fns.map((fn, j) => {
    const texts = args[0][j].map((first, i) => {
      const all = args.map((patch) => patch[j][i]);
      if (new Set(all.map((a) => a.key)).size === 1) {
        if (!shown.has(first.key)) shown.set(first.key, first);
        const same = shown.get(first.key)!;
        if (same.defines) defines.add(same.defines);
        return same.text;
      }
      const name = `c${j}_a${i}`;
      if (first.int) return first.int.read(column(name, all.map((a) => a.int!.value)));
      if (first.entry) {
        const { ctype } = first.entry;
        if (!arrays.has(ctype)) arrays.set(ctype, { ctype, name: `mt_patch_${ctype.replace(/^mt_/, '')}`, entries: [], index: new Map() });
        const array = arrays.get(ctype)!;
        const at = all.map((a) => {
          if (!array.index.has(a.key)) array.index.set(a.key, array.entries.push(a.entry!.init) - 1);
          return array.index.get(a.key)!;
        });
        return `&${array.name}[${column(name, at)}]`;
      }
      throw new Error(`${fn} (op ${ops[j].index}): argument ${i} differs between patches but cannot be a table field`);
    });
    return { statement: `${fn}(${texts.join(', ')});`, ...ops[j] };
  });
  // Widest first, so the record needs no padding between fields.
  const fields = [...columns.values()].sort((a, b) => b.bytes - a.bytes);
  return {
    record: `${id}_patch`, table: `${id}_patches`, count: args.length,
    fields: fields.map(({ ctype, name }) => `${ctype} ${name}`),
    rows: args.map((_, k) => `{ ${fields.map((f) => f.values[k]).join(', ')} },`),
    body, defines,
  };
}
