/**
 * What a compiled project holds about its model, for the commands and the API that train it and read
 * its weights back: the training scheme's record, and the project's own copy of the model, checked
 * against the hash it was compiled from (offsets into a different model would write the wrong tensors).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { McutrainError } from '../errors.ts';
import { importTflite } from '../import/import_tflite.ts';
import type { Graph } from '../ir/graph.ts';
import { PROJECT_MODEL_FILE, type ProjectManifest, type TrainingInfo } from './manifest.ts';

const RECOMPILE = (dir: string) => `compile the project again with this mcutrain (mcutrain compile <model.tflite> --train <scheme> -o ${dir}, or compile() with train), then build it`;

/** The project's training record; a project compiled for inference only is refused. */
export function projectTraining(manifest: ProjectManifest, dir: string): TrainingInfo {
  if (!manifest.training) {
    throw new McutrainError(`project '${dir}' was compiled without training`,
      `compile it with --train (mcutrain compile <model.tflite> --train <scheme> -o ${dir}, or compile() with train), then build it again`);
  }
  return manifest.training;
}

/** The project's copy of its model (model.tflite), checked against the SHA-256 the project was compiled from. */
export function loadProjectModel(dir: string, manifest: ProjectManifest): Graph {
  const modelFile = path.join(dir, PROJECT_MODEL_FILE);
  if (!existsSync(modelFile)) throw new McutrainError(`'${dir}' has no ${PROJECT_MODEL_FILE} (the copy of the model it was compiled from)`, RECOMPILE(dir));
  const bytes = new Uint8Array(readFileSync(modelFile));
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== manifest.model.sha256) {
    throw new McutrainError(`${modelFile} is not the model '${dir}' was compiled from (SHA-256 ${sha.slice(0, 16)}, expected ${manifest.model.sha256.slice(0, 16)})`, RECOMPILE(dir));
  }
  return importTflite(bytes, manifest.model.file);
}
