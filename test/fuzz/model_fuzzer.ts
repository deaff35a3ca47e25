/**
 * The model fuzzer: damaged copies of the reference models through import, inspect and compile, in
 * process, then a sample of the mutants that compiled built with ASan/UBSan, run, and compared with the
 * TensorFlow Lite interpreter running the same damaged file.
 *
 * What counts as a failure: anything thrown that is not a McutrainError (a crash), a mutant that takes
 * longer than the work budget (a hang: the stages are synchronous, so this is measured, not preempted),
 * generated C that does not build with -Werror, an engine that dies under the sanitizers, and an engine
 * whose outputs differ from the interpreter's (silent wrong output). A mutant the interpreter refuses
 * but mcutrain compiles is listed for judgement, not counted as wrong: there is no oracle answer.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { McutrainError } from '../../src/errors.ts';
import { inspectModel } from '../../src/cli/inspect.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { buildProjectAsync } from '../../src/build/build_project.ts';
import { openProjectDevice } from '../../src/connect/connect.ts';
import { seededUniform } from '../../src/util/random.ts';
import { loadInterpreter, OracleError } from '../oracle/tflite_interpreter.ts';
import { fixRank1QuantizedDimension } from '../oracle/quantized_dimension_patch.ts';
import { asBytes, asOracleArray, concat } from '../helpers/oracle_io.ts';
import { nextTurn } from '../../src/util/event_loop.ts';
import { model } from '../helpers/paths.ts';
import { randomBytes } from '../helpers/random.ts';
import { modelLayout, mutateModel, MUTATION_KINDS, type ModelLayout, type Mutant, type MutationKind } from './model_mutants.ts';

export const FUZZ_MODELS = [
  'hello_world_int8.tflite', 'hello_world_float.tflite', 'micro_speech_int8.tflite', 'ad01_int8.tflite',
  'person_detect_int8.tflite', 'vww96_int8.tflite', 'vww96_float.tflite',
];

/** How often each kind is drawn: byte damage is the broadest, so it gets the largest share. */
const KIND_WEIGHTS: Partial<Record<MutationKind, number>> = { bytes: 4, truncate: 2 };

export interface FuzzOptions {
  mutants: number;
  seed: number;
  /** How many compiled mutants to build, run and compare with the interpreter (spread over mutation kinds). */
  sample: number;
  /** Random inputs per sampled engine. */
  inferences: number;
  workDir: string;
  /** A mutant whose import, inspect and compile take longer than this counts as hung. */
  budgetMs: number;
  models?: string[];
  log?: (line: string) => void;
}

interface KindFigures { tried: number; cleanError: number; compiled: number; crashed: number }

export interface FuzzFigures {
  seed: number;
  models: string[];
  tried: number;
  crashed: number;
  hung: number;
  /** Imported and inspected without error (the engine may still refuse them). */
  imported: number;
  compiled: number;
  /** Refused with a McutrainError at import, inspect or compile. */
  cleanError: number;
  sampled: number;
  built: number;
  buildFailed: number;
  ran: number;
  engineCrashed: number;
  matched: number;
  silentWrong: number;
  /** Compiled and ran, but the interpreter refuses the file, so there is no answer to compare with. */
  oracleRefused: number;
  byKind: Record<string, KindFigures>;
  slowest: { ms: number; model: string; kind: string; what: string }[];
  failures: string[];
  oracleRefusals: string[];
  seconds: number;
}

/** The figures a clean run must have: no crash, hang, failed build, sanitizer report or silent wrong answer. */
export function failureCount(f: FuzzFigures): number {
  return f.crashed + f.hung + f.buildFailed + f.engineCrashed + f.silentWrong;
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzFigures> {
  const log = opts.log ?? (() => undefined);
  const started = performance.now();
  const random = seededUniform(opts.seed);
  const models = opts.models ?? FUZZ_MODELS;
  const layouts = models.map((file) => modelLayout(new Uint8Array(readFileSync(model(file))), file));
  const figures: FuzzFigures = {
    seed: opts.seed, models, tried: 0, crashed: 0, hung: 0, imported: 0, compiled: 0, cleanError: 0, sampled: 0, built: 0,
    buildFailed: 0, ran: 0, engineCrashed: 0, matched: 0, silentWrong: 0, oracleRefused: 0,
    byKind: Object.fromEntries(MUTATION_KINDS.map((k) => [k, { tried: 0, cleanError: 0, compiled: 0, crashed: 0 }])),
    slowest: [], failures: [], oracleRefusals: [], seconds: 0,
  };
  mkdirSync(opts.workDir, { recursive: true });
  const modelFile = path.join(opts.workDir, 'mutant.tflite');
  const outDir = path.join(opts.workDir, 'compiled');
  /** Compiled mutants kept for the sample, per kind (reservoir sampling, so every compiled one has a chance). */
  const reservoir = new Map<MutationKind, { mutant: Mutant; layout: ModelLayout; seen: number }[]>();
  const seenCompiled = new Map<MutationKind, number>();
  const kinds = MUTATION_KINDS.flatMap((k) => Array<MutationKind>(KIND_WEIGHTS[k] ?? 1).fill(k));

  for (let i = 0; figures.tried < opts.mutants; i++) {
    await nextTurn(); // imports and compiles are synchronous: let a test worker's event loop turn between mutants
    const layout = layouts[i % layouts.length];
    const mutant = mutateModel(layout, kinds[Math.floor(random() * kinds.length)], random);
    if (!mutant) continue;
    const kind = figures.byKind[mutant.kind];
    figures.tried++;
    kind.tried++;
    const label = `${layout.file} mutant ${figures.tried} [${mutant.kind}: ${mutant.what}]`;
    const t0 = performance.now();
    try {
      const report = inspectModel(mutant.bytes, layout.file);
      figures.imported++;
      if (report.engineError !== undefined) {
        figures.cleanError++;
        kind.cleanError++;
      } else {
        writeFileSync(modelFile, mutant.bytes);
        compileModel({ modelPath: modelFile, target: 'host', outDir, numerics: 'tflite' });
        figures.compiled++;
        kind.compiled++;
        const seen = (seenCompiled.get(mutant.kind) ?? 0) + 1;
        seenCompiled.set(mutant.kind, seen);
        const kept = reservoir.get(mutant.kind) ?? [];
        const slot = kept.length < opts.sample ? kept.length : Math.floor(random() * seen);
        if (slot < opts.sample) kept[slot] = { mutant, layout, seen };
        reservoir.set(mutant.kind, kept);
      }
    } catch (error) {
      if (error instanceof McutrainError && error.hint) {
        figures.cleanError++;
        kind.cleanError++;
      } else {
        figures.crashed++;
        kind.crashed++;
        figures.failures.push(`crash: ${label}: ${error instanceof Error ? `${error.name}: ${error.message}\n${error.stack?.split('\n').slice(1, 4).join('\n')}` : String(error)}`);
      }
    }
    const ms = performance.now() - t0;
    if (ms > opts.budgetMs) {
      figures.hung++;
      figures.failures.push(`hang: ${label} took ${ms.toFixed(0)} ms (budget ${opts.budgetMs} ms)`);
    }
    noteSlow(figures.slowest, { ms: Math.round(ms), model: layout.file, kind: mutant.kind, what: mutant.what });
    if (figures.tried % 1000 === 0) log(`  ${figures.tried} mutants: ${figures.compiled} compiled, ${figures.crashed} crashed, ${figures.hung} hung`);
  }

  const sample = spread([...reservoir.values()].map((list) => list.filter(Boolean)), opts.sample);
  for (const [n, { mutant, layout }] of sample.entries()) {
    log(`  sample ${n + 1}/${sample.length}: ${layout.file} [${mutant.kind}: ${mutant.what}]`);
    await checkEngine(figures, mutant, layout, path.join(opts.workDir, `sample-${n}`), opts.inferences, random);
  }
  figures.seconds = Math.round((performance.now() - started) / 100) / 10;
  return figures;
}

/** Keeps the five slowest mutants, slowest first. */
function noteSlow(slowest: FuzzFigures['slowest'], entry: FuzzFigures['slowest'][number]): void {
  if (slowest.length === 5 && entry.ms <= slowest[4].ms) return;
  slowest.push(entry);
  slowest.sort((a, b) => b.ms - a.ms);
  slowest.length = Math.min(slowest.length, 5);
}

/** Up to `count` items taken round-robin from the lists, so every mutation kind that compiled is represented. */
function spread<T>(lists: T[][], count: number): T[] {
  const out: T[] = [];
  for (let round = 0; out.length < count && lists.some((l) => l.length > round); round++) {
    for (const list of lists) if (list.length > round && out.length < count) out.push(list[round]);
  }
  return out;
}

/** Builds the mutant's engine with the sanitizers, runs it on random inputs and compares with the interpreter. */
async function checkEngine(figures: FuzzFigures, mutant: Mutant, layout: ModelLayout, dir: string, inferences: number, random: () => number): Promise<void> {
  figures.sampled++;
  const label = `${layout.file} [${mutant.kind}: ${mutant.what}]`;
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'mutant.tflite');
  writeFileSync(file, mutant.bytes);
  const projectDir = path.join(dir, 'project');
  const { manifest } = compileModel({ modelPath: file, target: 'host', outDir: projectDir, numerics: 'tflite' });
  try {
    await buildProjectAsync(projectDir, { sanitize: true });
    figures.built++;
  } catch (error) {
    figures.buildFailed++;
    figures.failures.push(`build failed: ${label}: ${(error as Error).message.slice(0, 2000)}`);
    return;
  }
  // person_detect carries a quantized_dimension the full interpreter refuses (see quantized_dimension_patch.ts).
  const oracleModel = layout.file === 'person_detect_int8.tflite' ? fixRank1QuantizedDimension(mutant.bytes).bytes : mutant.bytes;
  let oracle: Awaited<ReturnType<typeof loadInterpreter>> | undefined;
  let refusal: string | undefined;
  try {
    oracle = await loadInterpreter(oracleModel);
  } catch (error) {
    refusal = error instanceof Error ? error.message.split('\n').slice(0, 3).join(' | ') : String(error);
  }
  let device: Awaited<ReturnType<typeof openProjectDevice>> | undefined;
  try {
    device = await openProjectDevice(projectDir, manifest, { sanitized: true, timeoutMs: 120_000 });
    let wrong = 0;
    for (let s = 0; s < inferences; s++) {
      const inputs = manifest.inputs.map((t) => randomBytes(t.bytes, random));
      const got = await device.infer(concat(inputs));
      if (!oracle) continue;
      let want: Uint8Array;
      try {
        want = concat(oracle.run(inputs.map((b, i) => asOracleArray(b, manifest.inputs[i].dtype))).map(asBytes));
      } catch (error) {
        if (!(error instanceof OracleError)) throw error;
        refusal = `interpreter failed to run it: ${error.message}`;
        break;
      }
      if (got.length !== want.length || got.some((v, k) => v !== want[k])) wrong++;
    }
    // Closing waits for the engine to exit: a sanitizer report at exit (a leak, say) fails here.
    const closing = device;
    device = undefined;
    await closing.close();
    figures.ran++;
    if (refusal !== undefined) {
      figures.oracleRefused++;
      figures.oracleRefusals.push(`${label}: ${refusal}`);
    } else if (wrong > 0) {
      figures.silentWrong++;
      figures.failures.push(`silent wrong output: ${label}: ${wrong} of ${inferences} inferences differ from the TFLite interpreter`);
    } else {
      figures.matched++;
    }
  } catch (error) {
    figures.engineCrashed++;
    figures.failures.push(`engine failed: ${label}: ${(error as Error).message.slice(0, 2000)}`);
  } finally {
    await device?.close().catch(() => undefined);
    oracle?.dispose();
  }
}
