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
  /** As a field of the patch record: its C type, its initializer, and the argument read from the field. */
  field: { ctype: string; init: string; read: (field: string) => string } | null;
  /** The dims or struct definition the argument points to, which must then be emitted. */
  defines?: string;
}

/** A rendered loop: the record type and table (definitions), the loop's statements, and the definitions it points to. */
export interface PatchLoopC {
  record: string;
  table: string;
  count: number;
  fields: { ctype: string; name: string }[];
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
  const fields: { ctype: string; name: string }[] = [];
  const inits: string[][] = args.map(() => []);
  const defines = new Set<string>();
  const body = fns.map((fn, j) => {
    const texts = args[0][j].map((first, i) => {
      const all = args.map((patch) => patch[j][i]);
      // The first patch with each value stands for the others (its definition is the one emitted).
      const shown = new Map<string, LoopArg>();
      for (const a of all) if (!shown.has(a.key)) shown.set(a.key, a);
      for (const a of shown.values()) if (a.defines) defines.add(a.defines);
      if (shown.size === 1) return first.text;
      if (!first.field) throw new Error(`${fn} (op ${ops[j].index}): argument ${i} differs between patches but cannot be a table field`);
      const name = `c${j}_a${i}`;
      fields.push({ ctype: first.field.ctype, name });
      all.forEach((a, k) => inits[k].push(shown.get(a.key)!.field!.init));
      return first.field.read(`p->${name}`);
    });
    return { statement: `${fn}(${texts.join(', ')});`, ...ops[j] };
  });
  return { record, table: `${id}_patches`, count: args.length, fields, rows: inits.map((r) => `{ ${r.join(', ')} },`), body, defines };
}
