/**
 * The compile driver: .tflite -> import -> lower -> planMemory -> emitC -> a self-contained C project
 * (generated sources, a copy of the firmware runtime, a Makefile and mcutrain.json), written atomically.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { importTflite } from '../import/import_tflite.ts';
import type { Graph } from '../ir/graph.ts';
import { tensorBytes } from '../ir/graph.ts';
import { lowerGraph } from '../lower/lower.ts';
import type { KernelCall } from '../lower/kernel_call.ts';
import { DEFAULT_NUMERICS, NUMERICS, type Numerics } from '../lower/numerics.ts';
import { planMemory, type MemoryPlan } from '../plan/plan_memory.ts';
import { emitC, linkReceiveBytes } from '../codegen/emit_c.ts';
import { flashConstBytes } from '../plan/flash.ts';
import { loadTarget, type Target } from '../targets/target.ts';
import { replaceDirAtomic } from '../util/fs_atomic.ts';
import { McutrainError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { isProjectDir, MANIFEST_FILE, PROJECT_MODEL_FILE, type IoTensorInfo, type ProjectManifest, type TrainingInfo } from './manifest.ts';
import { analyzeTraining, type TrainingAnalysis } from '../train/analyze_training.ts';
import { parseScheme, schemeToString, type TrainingScheme } from '../train/scheme.ts';
import { requireFits, sramBudget } from '../train/memory_report.ts';

export const FIRMWARE_DIR = fileURLToPath(new URL('../../firmware/', import.meta.url));

export interface Analysis {
  graph: Graph;
  calls: KernelCall[];
  plan: MemoryPlan;
  /** Present with a training scheme. */
  training?: TrainingAnalysis;
}

/** Import, lower and plan (and, with a scheme, derive and plan the training step): everything needed to report on a model or to emit it. */
export function analyzeModel(bytes: Uint8Array, name: string, numerics: Numerics = DEFAULT_NUMERICS, scheme?: TrainingScheme): Analysis {
  const graph = importTflite(bytes, name);
  const calls = lowerGraph(graph, { numerics });
  const plan = planMemory(graph, calls);
  const training = scheme ? analyzeTraining(graph, calls, scheme) : undefined;
  return { graph, calls, plan, training };
}

/** How to train, for compileModel: a scheme (inline or a .json path) with optional overrides. */
export interface TrainOptions {
  scheme: string;
  qas?: boolean;
  momentum?: number;
  lr?: number;
}

export function resolveScheme(train: TrainOptions): TrainingScheme {
  const scheme = parseScheme(train.scheme);
  return parseScheme(schemeToString({
    ...scheme,
    qas: train.qas ?? scheme.qas,
    momentum: train.momentum ?? scheme.momentum,
    lr: train.lr ?? scheme.lr,
  }));
}

export function readModelFile(file: string): Uint8Array {
  if (!existsSync(file)) throw new McutrainError(`model file '${file}' does not exist`, 'check the path');
  try {
    return new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new McutrainError(`cannot read model file '${file}': ${(e as Error).message}`, 'check the path and its permissions');
  }
}

export interface CompileOptions {
  modelPath: string;
  target: string;
  outDir: string;
  /** Whose int8 arithmetic to reproduce (see src/lower/numerics.ts). */
  numerics?: Numerics;
  /** Compile the training engine too (docs/training.md). */
  train?: TrainOptions;
}

export interface CompileResult {
  manifest: ProjectManifest;
  analysis: Analysis;
  outDir: string;
}

export function compileModel(opts: CompileOptions): CompileResult {
  const target = loadTarget(opts.target);
  const numerics = opts.numerics ?? DEFAULT_NUMERICS;
  if (!NUMERICS.includes(numerics)) throw new McutrainError(`unknown numerics '${numerics}'`, `choose one of: ${NUMERICS.join(', ')}`);
  const bytes = readModelFile(opts.modelPath);
  const name = path.basename(opts.modelPath);
  const scheme = opts.train ? resolveScheme(opts.train) : undefined;
  const analysis = analyzeModel(bytes, name, numerics, scheme);
  const training = analysis.training;
  if (training) {
    const linkBytes = linkReceiveBytes(analysis.graph, training) + 4 * analysis.calls.length;
    const budget = sramBudget(analysis.plan, training, target, linkBytes);
    requireFits(budget, training, target, (step) => trainingCallName(training, step));
  }
  const sha256 = createHash('sha256').update(bytes).digest();
  const buildKey = `${target.name}\0${numerics}\0${VERSION}\0${training?.schemeText ?? ''}`;
  const buildId = createHash('sha256').update(sha256).update(buildKey).digest('hex').slice(0, 16);
  const files = emitC(analysis.graph, analysis.calls, analysis.plan, {
    target, modelName: name, modelHash: sha256.subarray(0, 8), buildId, version: VERSION, training,
  });
  const manifest = makeManifest(analysis, target, numerics, name, sha256.toString('hex'), buildId);
  replaceDirAtomic(opts.outDir, isProjectDir, (tmp) => {
    for (const f of files) writeFileSync(path.join(tmp, f.path), f.contents);
    // The original model travels with the project: `mcutrain weights` writes the learned weights into a copy of it.
    writeFileSync(path.join(tmp, PROJECT_MODEL_FILE), bytes);
    copyRuntime(tmp, target);
    writeFileSync(path.join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  });
  return { manifest, analysis, outDir: opts.outDir };
}

/** The generated project carries its own copy of the runtime, so it builds anywhere without mcutrain. */
function copyRuntime(dir: string, target: Target): void {
  const runtime = path.join(dir, 'runtime');
  for (const part of ['include', 'kernels', 'link', ...(target.platformParts ?? []).map((p) => `platform/${p}`), `platform/${target.platform}`]) {
    cpSync(path.join(FIRMWARE_DIR, part), path.join(runtime, part), { recursive: true });
  }
}

function makeManifest(a: Analysis, target: Target, numerics: Numerics, file: string, sha256: string, buildId: string): ProjectManifest {
  const io = (ids: number[]): IoTensorInfo[] => ids.map((id) => {
    const t = a.graph.tensors[id];
    return { name: t.name, dtype: t.dtype, shape: t.shape, bytes: tensorBytes(t), scale: t.quant?.scale[0] ?? 0, zeroPoint: t.quant?.zeroPoint[0] ?? 0 };
  });
  const ops = a.calls.map((c) => ({ index: c.op, kind: a.graph.operators[c.op].kind, macs: c.macs }));
  return {
    mcutrain: VERSION,
    model: { file, sha256 },
    target: target.name,
    numerics,
    buildId,
    arenaBytes: a.plan.arenaBytes,
    lowerBoundBytes: a.plan.lowerBoundBytes,
    constBytes: flashConstBytes(a.graph, a.calls),
    macs: ops.reduce((s, o) => s + o.macs, 0),
    inputs: io(a.graph.inputs),
    outputs: io(a.graph.outputs),
    ops,
    ...(a.training ? { training: trainingInfo(a.training) } : {}),
  };
}

function trainingInfo(t: TrainingAnalysis): TrainingInfo {
  const s = t.tg.scheme;
  return {
    scheme: t.schemeText,
    qas: s.qas,
    classes: t.tg.classes,
    logits: t.tg.logits.name,
    lr: s.lr,
    momentum: s.momentum,
    inputBytes: tensorBytes(t.graph.tensors[t.graph.inputs[0]]),
    params: t.params,
    paramBytes: t.paramBytes,
    momentumBytes: t.momentumBytes,
    trainArenaBytes: t.plan.arenaBytes,
    trainLowerBoundBytes: t.plan.lowerBoundBytes,
    macsForward: t.macsForward,
    macsBackward: t.macsBackward,
  };
}

/** A readable name for step `step` of the training schedule (forward calls, loss, backward calls). */
export function trainingCallName(t: TrainingAnalysis, step: number): string {
  const schedule = [...t.forwardCalls, t.lossCall, ...t.backwardCalls];
  const c = schedule[step];
  if (!c) return `step ${step}`;
  const kind = t.graph.operators[c.op]?.kind ?? '';
  return c.name ? `${c.name} ${c.fn ?? ''}${kind ? ` (op ${c.op} ${kind})` : ''}` : `op ${c.op} ${kind}`;
}
