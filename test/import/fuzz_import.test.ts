/**
 * Feeds damaged copies of every reference model to the importer: each must import (into a well-formed
 * graph) or be refused with a McutrainError, never throw anything else and never take long.
 *
 * Damage is reproducible (seeded PRNG) and aimed where it hurts: the importer reports which byte ranges
 * it reads, so truncations are made at every boundary of those ranges (and one byte either side), and
 * most byte mutations land in the flatbuffer's structure (tables, vtables, vector headers) rather than in
 * the weights, where any value is valid.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { McutrainError } from '../../src/errors.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import { wellFormedProblems } from './graph_checks.ts';
import { seededUniform } from '../../src/util/random.ts';
import { nextTurn } from '../../src/util/event_loop.ts';
import { cpuMark } from '../helpers/cpu_time.ts';
import { boundaryCuts, mutateBytes, spansRead, structureBytes } from '../fuzz/model_mutants.ts';

const MODELS = fileURLToPath(new URL('../../../shared/models/', import.meta.url));
const SEED = 20240611;
const RANDOM_CUTS_PER_MODEL = 100;
const MUTANTS_PER_MODEL = 2000;
/** No single import may take more CPU than this (the slowest clean import takes ~10 ms once warm); CPU, so a loaded machine does not fail it. */
const MAX_MS_PER_CASE = 1000;

/** A seeded PRNG, so a failing case can be replayed from its seed and index. */
const prng = seededUniform;

interface Tally { cases: number; imported: number; rejected: number; slowestMs: number; failures: string[] }

function runCase(tally: Tally, bytes: Uint8Array, file: string, what: string): void {
  tally.cases++;
  const cpuMs = cpuMark();
  try {
    const graph = importTflite(bytes, file);
    const problems = wellFormedProblems(graph);
    if (problems.length > 0) tally.failures.push(`${file} ${what}: imported an ill-formed graph: ${problems.slice(0, 3).join('; ')}`);
    tally.imported++;
  } catch (error) {
    if (error instanceof McutrainError && error.message.length > 0 && error.hint) tally.rejected++;
    else tally.failures.push(`${file} ${what}: threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  }
  const ms = cpuMs();
  tally.slowestMs = Math.max(tally.slowestMs, ms);
  if (ms > MAX_MS_PER_CASE) tally.failures.push(`${file} ${what}: took ${ms.toFixed(0)} ms`);
}

describe('importer fuzzing', () => {
  const files = readdirSync(MODELS).filter((f) => f.endsWith('.tflite')).sort();

  it('imports or cleanly rejects every truncated and mutated copy of the reference models', async () => {
    // Thousands of synchronous imports: let the worker's event loop turn between batches, or vitest's
    // RPC to the main process times out on a loaded machine.
    const random = prng(SEED);
    const truncations: Tally = { cases: 0, imported: 0, rejected: 0, slowestMs: 0, failures: [] };
    const mutations: Tally = { cases: 0, imported: 0, rejected: 0, slowestMs: 0, failures: [] };
    const started = performance.now();

    for (const file of files) {
      const original = new Uint8Array(readFileSync(join(MODELS, file)));
      const spans = spansRead(original, file);

      const cuts = new Set(boundaryCuts(spans, original.length));
      for (let i = 0; i < RANDOM_CUTS_PER_MODEL; i++) cuts.add(Math.floor(random() * original.length));
      for (const length of [...cuts].sort((a, b) => a - b)) {
        runCase(truncations, original.subarray(0, length), file, `truncated to ${length} bytes`);
        if (truncations.cases % 100 === 0) await nextTurn();
      }

      const structure = structureBytes(spans);
      for (let i = 0; i < MUTANTS_PER_MODEL; i++) {
        const { bytes, what } = mutateBytes(original, structure, random);
        runCase(mutations, bytes, file, `mutant ${i} (${what})`);
        if (i % 100 === 0) await nextTurn();
      }
    }

    const seconds = (performance.now() - started) / 1000;
    for (const [name, t] of [['truncations', truncations], ['mutations', mutations]] as const) {
      console.log(`fuzz ${name}: ${t.cases} cases, ${t.imported} imported, ${t.rejected} rejected with McutrainError, ` +
        `${t.failures.length} failures, slowest ${t.slowestMs.toFixed(1)} ms`);
    }
    console.log(`fuzz total: ${truncations.cases + mutations.cases} cases over ${files.length} models in ${seconds.toFixed(1)} s (seed ${SEED})`);

    expect([...truncations.failures, ...mutations.failures].slice(0, 20)).toEqual([]);
    // The damage must be real: most truncations are refused, and mutations exercise both outcomes.
    expect(truncations.rejected).toBeGreaterThan(0.9 * truncations.cases);
    expect(mutations.rejected).toBeGreaterThan(0.2 * mutations.cases);
    expect(mutations.imported).toBeGreaterThan(0.05 * mutations.cases);
    expect(files.length).toBeGreaterThanOrEqual(7);
  });
});
