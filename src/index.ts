/**
 * mcutrain's programmatic API: what the `mcutrain` command does, as functions. The package's `.` export
 * (`import { compile } from 'mcutrain'`); the README's "Use it as a library" shows the whole loop.
 *
 * import a model -> plan its memory -> compile it into a C project -> build it -> open the device (the host
 * engine, the emulated twin of a board, or a board on a serial port) -> infer / evaluate / train on it ->
 * read the learned weights back into a .tflite.
 *
 * Every failure the user can act on is a McutrainError (message + hint).
 */
import { McutrainError } from './errors.ts';
import { readLabelledFolder, type LabelledSet } from './data/labelled.ts';
import type { PixelMapping } from './data/input_file.ts';
import { withTrainedParams } from './export/apply_weights.ts';
import { writeTflite } from './export/write_tflite.ts';
import { importTflite } from './import/import_tflite.ts';
import { openProjectDevice, type OpenOptions } from './connect/connect.ts';
import type { Device } from './link/device.ts';
import { compileModel, type CompileOptions, type CompileResult, type TrainOptions } from './project/compile_project.ts';
import type { Analysis } from './pipeline/pipeline.ts';
import type { FitVerdict } from './project/fit.ts';
import { planModelFile } from './project/plan_model.ts';
import { loadProjectModel, projectTraining } from './project/project_model.ts';
import { readManifest, type ProjectManifest } from './project/manifest.ts';
import { evaluateOn, shuffledEpochs, TrainingSession, type Samples, type Score, type SessionProgress, type SessionResult } from './session/training_session.ts';
import { DEFAULT_TARGET, loadTarget } from './targets/target.ts';
import type { Numerics } from './lower/numerics.ts';

export { McutrainError } from './errors.ts';
export { VERSION } from './version.ts';
export { importTflite, importTfliteFile as importModel } from './import/import_tflite.ts';
export type { Graph, Tensor, Operator } from './ir/graph.ts';
export { writeTflite } from './export/write_tflite.ts';
export { buildProject, buildProjectAsync, type BuildOptions, type BuildResult } from './build/build_project.ts';
export { Device } from './link/device.ts';
export type { OpenOptions } from './connect/connect.ts';
export { readManifest, type ProjectManifest } from './project/manifest.ts';
export { DEFAULT_TARGET, listTargets, loadTarget, type Target } from './targets/target.ts';
export { parseScheme, schemeToString, type TrainingScheme } from './train/scheme.ts';
export { readLabelledFolder, type LabelledSet } from './data/labelled.ts';
export { TrainingSession, shuffledEpochs, evaluateOn, type SessionOptions, type SessionResult, type SessionProgress, type Score, type Samples } from './session/training_session.ts';
export type { CompileOptions, CompileResult, TrainOptions } from './project/compile_project.ts';
export type { Analysis } from './pipeline/pipeline.ts';
export type { FitVerdict } from './project/fit.ts';
export type { MemoryPlan } from './plan/plan_memory.ts';
export type { Numerics } from './lower/numerics.ts';

/**
 * Compiles a .tflite model into a self-contained C project in `outDir` (as `mcutrain compile`): the
 * inference engine, and with `train` the on-device training engine too. Refuses a model that does not fit
 * the target's SRAM/Flash (the error lists remedies).
 *
 * @example compile({ modelPath: 'model.tflite', target: 'host', outDir: 'build/model', train: { scheme: 'bias:last=2' } })
 */
export function compile(opts: CompileOptions): CompileResult {
  return compileModel(opts);
}

export interface PlanOptions {
  /** A target name (`listTargets()`) or a board file (a path ending in .json, checked as targets/*.json are); default mps2-an500. */
  target?: string;
  numerics?: Numerics;
  /** Plan the training engine of this scheme too. */
  train?: TrainOptions;
}

export interface PlanResult {
  /** The graph, kernel calls, memory plan (`analysis.plan.arenaBytes`, buffers) and training analysis. */
  analysis: Analysis;
  /** Whether it fits the target, and what would make it fit. */
  fit: FitVerdict;
}

/** The static memory plan of a model (and of its training scheme), without writing a project (as `mcutrain plan`). */
export function plan(modelPath: string, opts: PlanOptions = {}): PlanResult {
  return planModelFile(modelPath, { target: loadTarget(opts.target ?? DEFAULT_TARGET), numerics: opts.numerics, train: opts.train });
}

/**
 * Opens the engine of a built project: a host project runs its program; a board project talks to the
 * board on `opts.port`, or without one runs its firmware on the board's emulated twin (QEMU). The
 * device must run this very build. Close it with `device.close()`.
 */
export async function openDevice(projectDir: string, opts: OpenOptions = {}): Promise<Device> {
  return openProjectDevice(projectDir, readManifest(projectDir), opts);
}

/**
 * A labelled folder (<folder>/<class>/<files>: .npy, .bin, .bmp) as samples for the project's input.
 * `labelsOf`: for a validation set, label the classes by name as the training set read from `labelsOf.folder` does.
 */
export function readDataset(projectDir: string, folder: string,
  opts: { pixels?: PixelMapping; labelsOf?: { folder: string; set: LabelledSet }; warn?: (message: string) => void } = {}): LabelledSet {
  const manifest = readManifest(projectDir);
  const training = projectTraining(manifest, projectDir);
  return readLabelledFolder(folder, manifest.inputs[0], {
    pixels: opts.pixels ?? 'shift', classes: training.classes, warn: opts.warn,
    labelsOf: opts.labelsOf ? { folder: opts.labelsOf.folder, classNames: opts.labelsOf.set.classNames } : undefined,
  });
}

export interface TrainRunOptions {
  train: Samples;
  /** Evaluated before the first epoch and after each one. */
  val?: Samples;
  /** Default 1. */
  epochs?: number;
  /** Default: the scheme's. */
  lr?: number;
  momentum?: number;
  /** Seeds the sample order (default 1). */
  seed?: number;
  onProgress?(p: SessionProgress): void;
}

/**
 * Trains the model on the device, one SGD step per sample (as `mcutrain train`, without its checkpoints):
 * returns the loss and accuracy per epoch (and on `val` before the first).
 */
export async function train(device: Device, projectDir: string, opts: TrainRunOptions): Promise<SessionResult> {
  const training = projectTraining(readManifest(projectDir), projectDir);
  const session = new TrainingSession({
    device, train: opts.train, val: opts.val, epochs: opts.epochs ?? 1, orders: shuffledEpochs(opts.train.samples.length, opts.seed ?? 1),
    hyper: { lr: opts.lr ?? training.lr, momentum: opts.momentum ?? training.momentum }, evaluateBefore: opts.val !== undefined, onProgress: opts.onProgress,
  });
  await session.begin();
  return session.run();
}

/** The mean loss and accuracy of the device's model on `set` (nothing is trained). */
export function evaluate(device: Device, set: Samples): Promise<Score> {
  return evaluateOn(device, set);
}

/**
 * The project's model with the weights the device has learned: the bytes of a .tflite (write them to a
 * file, or `importTflite` them). The project's copy of its model (model.tflite) is the base.
 */
export async function readWeights(device: Device, projectDir: string): Promise<Uint8Array> {
  const manifest = readManifest(projectDir);
  const original = loadProjectModel(projectDir, manifest);
  return writeTflite(withTrainedParams(original, projectTraining(manifest, projectDir).params, await device.readParams('params')));
}
