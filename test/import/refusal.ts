import { McutrainError } from '../../src/errors.ts';
import { importTflite } from '../../src/import/import_tflite.ts';

/** The McutrainError importing `bytes` ends in; anything else thrown, or an import that succeeds, fails the test. */
export function importRefusal(bytes: Uint8Array, name: string): McutrainError {
  try {
    importTflite(bytes, name);
  } catch (error) {
    if (error instanceof McutrainError) return error;
    throw error;
  }
  throw new Error(`${name} was imported`);
}
