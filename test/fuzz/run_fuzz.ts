/**
 * `npm run fuzz`: the long model fuzz (default 10,000 mutants, 24 sampled engines). Prints the figures
 * and writes them as JSON (default test/fuzz/results.json); exits 1 when there is any failure.
 *
 *   npm run fuzz -- [--mutants N] [--sample N] [--inferences N] [--seed N] [--budget-ms N] [--out file.json]
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { failureCount, runFuzz, type FuzzFigures } from './model_fuzzer.ts';

const { values } = parseArgs({
  options: {
    mutants: { type: 'string', default: '10000' },
    sample: { type: 'string', default: '24' },
    inferences: { type: 'string', default: '4' },
    seed: { type: 'string', default: '20261206' },
    'budget-ms': { type: 'string', default: '30000' },
    out: { type: 'string', default: path.join('test', 'fuzz', 'results.json') },
  },
});

function summary(f: FuzzFigures): string {
  return [
    `tried ${f.tried}  crashed ${f.crashed}  hung ${f.hung}  clean error ${f.cleanError}  imported ${f.imported}  compiled ${f.compiled}`,
    `sampled ${f.sampled}  built ${f.built} (failed ${f.buildFailed})  ran ${f.ran} (engine failed ${f.engineCrashed})  ` +
      `matched the interpreter ${f.matched}  silent wrong ${f.silentWrong}  interpreter refused ${f.oracleRefused}`,
    `slowest: ${f.slowest.map((s) => `${s.ms} ms ${s.model} ${s.kind}`).join('; ')}`,
    `${f.seconds} s, seed ${f.seed}`,
  ].join('\n');
}

const workDir = mkdtempSync(path.join(tmpdir(), 'mcutrain-fuzz-'));
try {
  const figures = await runFuzz({
    mutants: Number(values.mutants), sample: Number(values.sample), inferences: Number(values.inferences),
    seed: Number(values.seed), budgetMs: Number(values['budget-ms']), workDir, log: (line) => console.log(line),
  });
  console.log(summary(figures));
  for (const line of figures.failures) console.log(`FAIL ${line}`);
  for (const line of figures.oracleRefusals) console.log(`interpreter refused (no oracle answer): ${line}`);
  const out = values.out!;
  writeFileSync(`${out}.tmp`, JSON.stringify(figures, null, 2) + '\n');
  renameSync(`${out}.tmp`, out);
  console.log(`figures written to ${out}`);
  process.exitCode = failureCount(figures) > 0 ? 1 : 0;
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
