/** Formatting numbers as C source, exactly (the generated constants must equal the computed ones bit for bit). */
import type { CScalarType } from '../lower/kernel_call.ts';

/** A C literal for an integer; INT32_MIN cannot be written as a plain negative literal. */
export function cInt(v: number): string {
  if (!Number.isInteger(v)) throw new Error(`not an integer: ${v}`);
  return v === -2147483648 ? '(-2147483647 - 1)' : String(v);
}

/** A float literal that round-trips to the same float32 (9 significant digits always suffice). */
export function cFloat(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`cannot emit non-finite float ${v}`);
  const f = Math.fround(v);
  if (Object.is(f, -0)) return '-0.0f';
  const s = f.toPrecision(9);
  return /[.e]/.test(s) ? `${s}f` : `${s}.0f`;
}

export function cScalar(ctype: CScalarType, v: number): string {
  return ctype === 'float' ? cFloat(v) : cInt(v);
}

/** Array initializer body, `perLine` values to a line, for readable generated files. */
export function cArrayLines(ctype: CScalarType, values: ArrayLike<number>, perLine = 16): string[] {
  const lines: string[] = [];
  for (let i = 0; i < values.length; i += perLine) {
    const row: string[] = [];
    for (let j = i; j < Math.min(i + perLine, values.length); j++) row.push(cScalar(ctype, values[j]));
    lines.push(row.join(', ') + ',');
  }
  return lines;
}

/** A C string literal (names of tensors are arbitrary text). */
export function cString(s: string): string {
  return '"' + s.replace(/[^\x20-\x7e]|["\\?]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0')) + '"';
}

/** A C comment body that can never close the comment early. */
export function cComment(s: string): string {
  return s.replace(/\*\//g, '* /').replace(/[\r\n]+/g, ' ');
}
