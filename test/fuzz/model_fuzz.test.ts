/**
 * The short model fuzz of the default suite (`npm run fuzz` is the long one): a few hundred damaged
 * reference models through import, inspect and compile, and two of the compiled ones built with
 * ASan/UBSan, run and compared with the TensorFlow Lite interpreter.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/paths.ts';
import { runFuzz } from './model_fuzzer.ts';
import { MUTATION_KINDS } from './model_mutants.ts';

const work = tempDir('fuzz');
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('model fuzzing (short)', () => {
  it('refuses or compiles every mutant cleanly, and sampled engines agree with the interpreter', async () => {
    // The work budget is generous on purpose: it flags a runaway mutant, not a slow machine.
    const f = await runFuzz({ mutants: 420, sample: 2, inferences: 2, seed: 1306, workDir: work, budgetMs: 120_000 });
    console.log(`model fuzz: ${f.tried} tried, ${f.crashed} crashed, ${f.hung} hung, ${f.cleanError} clean errors, ` +
      `${f.compiled} compiled; ${f.sampled} sampled, ${f.built} built, ${f.ran} ran, ${f.matched} matched, ` +
      `${f.silentWrong} silent wrong, ${f.oracleRefused} interpreter refused (${f.seconds} s)`);
    expect(f.failures).toEqual([]);
    expect([f.crashed, f.hung, f.buildFailed, f.engineCrashed, f.silentWrong]).toEqual([0, 0, 0, 0, 0]);
    // The run must reach every stage: each kind of damage tried, some mutants compiled, engines built and run.
    for (const kind of MUTATION_KINDS) expect(f.byKind[kind].tried, kind).toBeGreaterThan(0);
    expect(f.compiled).toBeGreaterThan(0);
    expect(f.ran).toBeGreaterThanOrEqual(1);
    // Damage that breaks the dataflow is always refused (the graph validator), never compiled.
    for (const kind of ['rewire-input', 'drop-operators', 'empty-weights', 'no-io'] as const) expect(f.byKind[kind].compiled, kind).toBe(0);
  }, 900_000);
});
