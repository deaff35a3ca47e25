/**
 * A model file's static plan on a target (inference, or with a training scheme the training step too)
 * and whether it fits: what `mcutrain plan`, the report and the API's plan() show, made one way.
 */
import path from 'node:path';
import type { Numerics } from '../lower/numerics.ts';
import { analyzeModel, fitWithin, type Analysis } from '../pipeline/pipeline.ts';
import type { Target } from '../targets/target.ts';
import { readModelFile, resolveScheme, type PatchMode, type TrainOptions } from './compile_project.ts';
import { fitVerdict, type FitVerdict } from './fit.ts';

export interface ModelPlanRequest {
  target: Target;
  numerics?: Numerics;
  /** The training scheme and its options; none: the inference build. */
  train?: TrainOptions;
  /** Patch-based early stage (default as compile's). */
  patches?: PatchMode;
}

export function planModelFile(modelPath: string, req: ModelPlanRequest): { analysis: Analysis; fit: FitVerdict } {
  const { target, train } = req;
  const subject = {
    bytes: readModelFile(modelPath), name: path.basename(modelPath), numerics: req.numerics,
    // the arithmetic (and with it the gradient storage) defaults from the target, as compile's does
    scheme: train ? resolveScheme(train, target) : undefined,
    options: { reorder: train?.reorder, inPlace: train?.inPlace, patches: req.patches, fitWithin: fitWithin(target) },
  };
  const analysis = analyzeModel(subject.bytes, subject.name, subject.numerics, subject.scheme, subject.options);
  return { analysis, fit: fitVerdict(analysis, target, subject) };
}
