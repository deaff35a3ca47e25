/**
 * The compile driver: .tflite -> the pipeline (src/pipeline/) -> a self-contained C project
 * (generated sources, a copy of the firmware runtime, a Makefile and mcutrain.json), written atomically.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { tensorBytes } from '../ir/graph.ts';
import { ioTensorInfo, type IoTensorInfo } from '../ir/io_tensor.ts';
import { parseNumerics, type Numerics } from '../lower/numerics.ts';
import type { PatchMode } from '../plan/patch_stage.ts';
import { flashConstBytes } from '../plan/flash.ts';
import { isTargetFile, loadTarget, PROJECT_BOARD_FILE, type Target } from '../targets/target.ts';
import { replaceDirAtomic } from '../util/fs_atomic.ts';
import { McutrainError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { isProjectDir, MANIFEST_FILE, PROJECT_MODEL_FILE, type ProjectManifest, type TrainingInfo } from './manifest.ts';
import type { TrainingAnalysis } from '../train/analyze_training.ts';
import { parseScheme, validateScheme, type ArithType, type GradType, type TrainingScheme } from '../train/scheme.ts';
import { defaultArith } from '../train/integer_arith.ts';
import { fitVerdict, requireFit, type FitVerdict } from './fit.ts';

export const FIRMWARE_DIR = fileURLToPath(new URL('../../firmware/', import.meta.url));

import { analyzeModel, fitWithin, type Analysis } from '../pipeline/pipeline.ts';
import { emitProject } from '../pipeline/passes.ts';
export type { PatchMode } from '../plan/patch_stage.ts';

/** How to train, for compileModel: a scheme (inline or a .json path) with optional overrides. */
export interface TrainOptions {
  /** Inline, JSON text, a .json path, or the scheme itself. */
  scheme: string | TrainingScheme;
  qas?: boolean;
  /** Gradient storage, overriding the scheme's (`--grad`). */
  grad?: GradType;
  /** Training arithmetic, overriding the scheme's (`--arith`; absent in both: the target's default). */
  arith?: ArithType;
  momentum?: number;
  lr?: number;
  /** false: every input gradient in its own buffer (to measure what in-place input gradients save). */
  inPlace?: boolean;
  /** false: plan the conventional order (no operator reordering) for comparison; `mcutrain plan` only, compile refuses it. */
  reorder?: boolean;
}

/**
 * The scheme with the overrides applied, checked by the scheme's one validator; for a `target`, the
 * arithmetic neither names is the target's default (integer-only on a core without an FPU).
 */
export function resolveScheme(train: TrainOptions, target?: Target): TrainingScheme {
  const scheme = typeof train.scheme === 'string' ? parseScheme(train.scheme) : train.scheme;
  const arith = train.arith ?? scheme.arith ?? (target ? defaultArith(target) : undefined);
  return validateScheme({
    ...scheme,
    qas: train.qas ?? scheme.qas,
    grad: train.grad ?? scheme.grad,
    momentum: train.momentum ?? scheme.momentum,
    lr: train.lr ?? scheme.lr,
    arith,
  });
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
  /** A target name, or a board file (.json), which the project then keeps a copy of (PROJECT_BOARD_FILE). */
  target: string;
  outDir: string;
  /** Whose int8 arithmetic to reproduce (see src/lower/numerics.ts). */
  numerics?: Numerics;
  /** Compile the training engine too (docs/training.md). */
  train?: TrainOptions;
  /** Patch-based early stage (see PatchMode); default 'auto' when training, 'off' otherwise. */
  patches?: PatchMode;
  /** The SRAM patches 'fit' keeps the build within (default: the target's SRAM; a host has no limit). */
  fitWithinBytes?: number;
}

export interface CompileResult {
  manifest: ProjectManifest;
  analysis: Analysis;
  /** How the build fits the target (compileModel refuses one that does not). */
  fit: FitVerdict;
  outDir: string;
}

export function compileModel(opts: CompileOptions): CompileResult {
  const target = loadTarget(opts.target);
  const numerics = parseNumerics(opts.numerics);
  const bytes = readModelFile(opts.modelPath);
  const name = path.basename(opts.modelPath);
  if (opts.train?.reorder === false) {
    throw new McutrainError('training without operator reordering is a memory figure for comparison; the engine always applies each update in place, right after its gradient, and has no kernels for the conventional order',
      'drop --no-reorder to compile (mcutrain plan --no-reorder reports the conventional order\'s memory)');
  }
  const scheme = opts.train ? resolveScheme(opts.train, target) : undefined;
  const options = { patches: opts.patches, fitWithin: fitWithin(target, opts.fitWithinBytes), inPlace: opts.train?.inPlace };
  const analysis = analyzeModel(bytes, name, numerics, scheme, options);
  const training = analysis.training;
  const fit = fitVerdict(analysis, target, { bytes, name, numerics, scheme, options });
  requireFit(fit);
  const sha256 = createHash('sha256').update(bytes).digest();
  const patchKey = analysis.patches ? `${analysis.patches.ops.length}x${analysis.patches.grid}` : '';
  const buildKey = `${target.name}\0${numerics}\0${VERSION}\0${training?.schemeText ?? ''}\0${patchKey}${options.inPlace === false ? '\0no-in-place' : ''}`;
  const buildId = createHash('sha256').update(sha256).update(buildKey).digest('hex').slice(0, 16);
  const files = emitProject(analysis, { target, modelName: name, modelHash: sha256.subarray(0, 8), buildId, version: VERSION });
  const manifest = makeManifest(analysis, target, numerics, name, sha256.toString('hex'), buildId);
  replaceDirAtomic(opts.outDir, isProjectDir, (tmp) => {
    for (const f of files) writeFileSync(path.join(tmp, f.path), f.contents);
    // The original model travels with the project: `mcutrain weights` writes the learned weights into a copy of it.
    writeFileSync(path.join(tmp, PROJECT_MODEL_FILE), bytes);
    copyRuntime(tmp, target);
    if (isTargetFile(opts.target)) writeFileSync(path.join(tmp, PROJECT_BOARD_FILE), JSON.stringify(target, null, 2) + '\n');
    writeFileSync(path.join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  });
  return { manifest, analysis, fit, outDir: opts.outDir };
}

/** The generated project carries its own copy of the runtime, so it builds anywhere without mcutrain. */
function copyRuntime(dir: string, target: Target): void {
  const runtime = path.join(dir, 'runtime');
  for (const part of ['include', 'kernels', 'link', ...(target.platformParts ?? []).map((p) => `platform/${p}`), `platform/${target.platform}`]) {
    cpSync(path.join(FIRMWARE_DIR, part), path.join(runtime, part), { recursive: true });
  }
}

function makeManifest(a: Analysis, target: Target, numerics: Numerics, file: string, sha256: string, buildId: string): ProjectManifest {
  const io = (ids: number[]): IoTensorInfo[] => ids.map((id) => ioTensorInfo(a.graph.tensors[id]));
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
    ...(a.patches ? { patches: { ops: a.patches.ops, grid: a.patches.grid, extraMacs: a.patches.extraMacs } } : {}),
  };
}

function trainingInfo(t: TrainingAnalysis): TrainingInfo {
  const s = t.tg.scheme;
  return {
    scheme: t.schemeText,
    qas: s.qas,
    grad: s.grad ?? 'f32',
    arith: s.arith ?? 'float',
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
