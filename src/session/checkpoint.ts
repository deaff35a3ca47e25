/**
 * The checkpoint file of a training session (training_session.ts): the learned bytes (params and
 * momentum spaces) as they were after a confirmed step, where in the run that was, and the figures so
 * far, so that `train --resume` continues from there after a failure and `-o` can save what was learned.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { McutrainError } from '../errors.ts';
import type { LabelledSet } from '../data/labelled.ts';
import { writeFileAtomic } from '../util/fs_atomic.ts';
import type { TrainParamInfo } from '../project/manifest.ts';
import type { SessionState } from './training_session.ts';

/** What must not change between a run and its resumption, or the position means nothing. */
export interface RunIdentity {
  modelSha256: string;
  /** SHA-256 of every training sample and label, in data-set order. */
  dataSha256: string;
  samples: number;
  seed: number;
  /** Where each trained tensor's bytes lie in the parameter space (paramLayout): the saved bytes mean nothing to another layout. */
  paramLayout: string;
}

/** A session's state with what identifies its run. */
export interface TrainCheckpoint extends SessionState {
  identity: RunIdentity;
}

export function dataSha256(set: LabelledSet): string {
  const hash = createHash('sha256');
  set.samples.forEach((s, i) => {
    hash.update(s);
    hash.update(new Uint8Array(Int32Array.of(set.labels[i]).buffer));
  });
  return hash.digest('hex');
}

/**
 * The parameter space's layout, as a checkpoint records it: each trained tensor's offset, size and
 * trained block. Builds of the same model with another scheme, or from before trained tensors were
 * split between SRAM and Flash, lay their bytes out differently.
 */
export function paramLayout(params: readonly TrainParamInfo[]): string {
  return params.map((p) => `${p.tensor}@${p.offset}+${p.bytes}${p.slice ? `[${p.slice.rows}x${p.slice.cols}/${p.slice.rowSize}]` : ''}`).join(',');
}

export function writeCheckpoint(file: string, ck: TrainCheckpoint): void {
  writeFileAtomic(file, JSON.stringify({
    mcutrainCheckpoint: 1, ...ck,
    params: Buffer.from(ck.params).toString('base64'), momentum: Buffer.from(ck.momentum).toString('base64'),
  }));
}

/** Reads a checkpoint and refuses one of another model, data set or seed. */
export function readCheckpoint(file: string, identity: RunIdentity): TrainCheckpoint {
  if (!existsSync(file)) {
    throw new McutrainError(`there is no training checkpoint at ${file} to resume from`,
      'a run that stopped early leaves one there; without --resume training starts from the parameters on the device');
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new McutrainError(`the training checkpoint ${file} is not readable JSON (${(e as Error).message})`, 'delete it and train without --resume');
  }
  if (raw.mcutrainCheckpoint !== 1 || typeof raw.params !== 'string' || typeof raw.identity !== 'object') {
    throw new McutrainError(`${file} is not a training checkpoint written by this mcutrain`, 'delete it and train without --resume');
  }
  const ck = raw as unknown as Omit<TrainCheckpoint, 'params' | 'momentum'> & { params: string; momentum: string };
  const differs = (Object.keys(identity) as (keyof RunIdentity)[]).filter((k) => ck.identity[k] !== identity[k]);
  if (differs.length > 0) {
    throw new McutrainError(`the checkpoint ${file} belongs to another run: its ${differs.join(', ')} differ(s) from this one`,
      'resume with the same project, --data folder and --seed, or train without --resume');
  }
  return { ...ck, params: new Uint8Array(Buffer.from(ck.params, 'base64')), momentum: new Uint8Array(Buffer.from(ck.momentum, 'base64')) };
}

export function removeCheckpoint(file: string): void {
  rmSync(file, { force: true });
}
