/**
 * Parameter structs as C: each field written in its header's order as its declared C type
 * (src/lower/params_structs.ts), so a float field reads back as the float32 lowering computed, an enum
 * field names a member its header declares, and a field lowering forgot (which C would silently
 * zero-initialize) or one the header lacks stops code generation.
 */
import { type CStruct, type FieldType, type ParamsType, paramsSchema } from '../lower/params_structs.ts';
import { cFloat, cInt } from './c_literals.ts';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * The designated initializers `.name = value` of a struct, in declaration order; a pointer field names
 * a constant of the same call, whose C name is `prefix`_name (required when the struct has one).
 */
export function structInitializers(st: CStruct, prefix?: string): { name: string; value: string }[] {
  return initializers(st.ctype, st.fields, `${st.ctype} ${st.name}`, prefix);
}

function initializers(ctype: ParamsType, fields: object, where: string, prefix?: string): { name: string; value: string }[] {
  const schema = paramsSchema(ctype);
  const values = fields as Record<string, unknown>;
  const unknown = Object.keys(values).filter((k) => !schema.some(([name]) => name === k));
  if (unknown.length > 0) throw new Error(`${where}: ${ctype} has no field ${unknown.join(', ')} (firmware/include)`);
  return schema.map(([name, type]) => ({ name, value: fieldValue(type, values[name], `${where}.${name}`, prefix) }));
}

function fieldValue(type: FieldType, v: unknown, where: string, prefix?: string): string {
  if (v === undefined) throw new Error(`${where} is not set (C would make it 0)`);
  if ('members' in type) {
    if (typeof v !== 'string' || !type.members.includes(v)) throw new Error(`${where} = ${String(v)}: not one of ${type.members.join(', ')}`);
    return v;
  }
  if ('capacity' in type) {
    if (!Array.isArray(v) || v.length > type.capacity) throw new Error(`${where}: expected at most ${type.capacity} values (${type.length})`);
    return `{ ${v.map((x) => int32(x, where)).join(', ')} }`;
  }
  if (type.ctype === 'float') {
    if (typeof v !== 'number') throw new Error(`${where} = ${String(v)}: not a number`);
    return cFloat(v);
  }
  if (type.ctype === 'int32_t') return int32(v, where);
  if (type.ctype === 'const int32_t*') {
    const name = (v as { const?: unknown }).const;
    if (typeof name !== 'string' || !/^\w+$/.test(name)) throw new Error(`${where}: expected { const: <a constant of the call> }`);
    if (prefix === undefined) throw new Error(`${where}: a pointer field needs the call's constant prefix`);
    return `${prefix}_${name}`;
  }
  const nested = initializers(type.ctype, v as object, where);
  return `{ ${nested.map((f) => `.${f.name} = ${f.value}`).join(', ')} }`;
}

function int32(v: unknown, where: string): string {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) throw new Error(`${where} = ${String(v)}: not an int32_t`);
  return cInt(v);
}
