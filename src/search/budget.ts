/** Memory sizes as people write them: 262144, 256KiB, 256KB (1000-based), 0.25MiB, 300 kB. */
import { McutrainError } from '../errors.ts';

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1000, kib: 1024, k: 1024, mb: 1000 ** 2, mib: 1024 ** 2, m: 1024 ** 2 };

/** Bytes of a size; fractional byte counts round down. */
export function parseBytes(text: string, what = 'the budget'): number {
  const m = text.trim().match(/^(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)$/i);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new McutrainError(`cannot read ${what} '${text}'`, 'write bytes (262144) or a size with a unit: 256KiB, 256KB (1000 B), 0.25MiB');
  }
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes <= 0) throw new McutrainError(`${what} '${text}' must be more than 0 bytes`);
  return bytes;
}
