/**
 * A patch loop (src/plan/patch_loop.ts) as C: one statement per call of a patch inside a loop over a
 * const table in Flash with one record per patch. An argument the same for every patch is written in
 * the statement; one that varies (a patch buffer's arena offset, a border patch's dims or paddings) is a
 * field of the record, its dims and structs defined once per distinct value and pointed to.
 */

/** One argument of a call as C, with what the loop needs to know about it. */
export interface LoopArg {
  /** The argument as C when written in the statement. */
  text: string;
  /** Equal for two patches exactly when the argument has the same value in both. */
  key: string;
  /**
   * As a field of the patch record: its C type (an integer field gets the narrowest type its values fit,
   * from `value`), its initializer, and the argument read from the field.
   */
  field: { ctype: string; init: string; value?: number; read: (field: string) => string } | null;
  /** The dims or struct definition the argument points to, which must then be emitted. */
  defines?: string;
}

/** Integer types a field of integers may take, narrowest first. */
const INT_TYPES: [ctype: string, min: number, max: number, bytes: number][] = [
  ['uint8_t', 0, 255, 1], ['int8_t', -128, 127, 1], ['uint16_t', 0, 65_535, 2], ['int16_t', -32_768, 32_767, 2],
  ['int32_t', -(2 ** 31), 2 ** 31 - 1, 4], ['uint32_t', 0, 2 ** 32 - 1, 4],
];

/** A rendered loop: the record type and table (definitions), the loop's statements, and the definitions it points to. */
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
 * (index, kind); `id` names the table. Each record holds only the fields that vary.
 */
export function patchLoopC(id: string, fns: string[], ops: { index: number; kind: string }[], args: LoopArg[][][]): PatchLoopC {
  const record = `${id}_patch`;
  // A column of the table: a field's values in patch order. Arguments with the same values in every patch
  // (a buffer's offset where one call writes it and the next reads it, say) share one field.
  const columns = new Map<string, { name: string; ctype: string; bytes: number; inits: string[] }>();
  const defines = new Set<string>();
  // The first argument of the loop with each value stands for the others (its dims or struct definition
  // is the one emitted): patches, and calls of a patch, share equal dims and structs.
  const shown = new Map<string, LoopArg>();
  const body = fns.map((fn, j) => {
    const texts = args[0][j].map((first, i) => {
      const all = args.map((patch) => patch[j][i]);
      for (const a of all) if (!shown.has(a.key)) shown.set(a.key, a);
      for (const a of all) if (shown.get(a.key)!.defines) defines.add(shown.get(a.key)!.defines!);
      if (new Set(all.map((a) => a.key)).size === 1) return shown.get(first.key)!.text;
      if (!first.field) throw new Error(`${fn} (op ${ops[j].index}): argument ${i} differs between patches but cannot be a table field`);
      const fields = all.map((a) => shown.get(a.key)!.field!);
      const values = fields.map((f) => f.value);
      const int = values.every((v) => v !== undefined) ? INT_TYPES.find(([, min, max]) => values.every((v) => v! >= min && v! <= max)) : undefined;
      const ctype = int?.[0] ?? first.field.ctype;
      const inits = int ? values.map(String) : fields.map((f) => f.init);
      const key = `${ctype} ${inits.join(' ')}`;
      if (!columns.has(key)) columns.set(key, { name: `c${j}_a${i}`, ctype, bytes: int?.[3] ?? 4, inits });
      return first.field.read(`p->${columns.get(key)!.name}`);
    });
    return { statement: `${fn}(${texts.join(', ')});`, ...ops[j] };
  });
  // Widest first, so the record needs no padding between fields.
  const fields = [...columns.values()].sort((a, b) => b.bytes - a.bytes);
  const rows = args.map((_, k) => `{ ${fields.map((f) => f.inits[k]).join(', ')} },`);
  return { record, table: `${id}_patches`, count: args.length, fields: fields.map(({ ctype, name }) => `${ctype}${ctype.endsWith('*') ? '' : ' '}${name}`), rows, body, defines };
}
