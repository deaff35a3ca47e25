/**
 * A training session on a device: the learning rate set, epochs of SGD steps in a seeded shuffled
 * order, the held-out set evaluated (before the first epoch and after each), and the learned bytes
 * checkpointed so a run that stops can resume exactly. One loop for `mcutrain train`, the scheme
 * search's contribution runs and the experiments; they differ in options, not in code. Progress
 * goes to a callback (the CLI draws its bar from it); nothing here prints.
 */
import type { Device, Patience } from '../link/device.ts';
import { McutrainError } from '../errors.ts';
import { seededUniform } from '../util/random.ts';

/** Samples with their labels (a LabelledSet is one). */
export interface Samples {
  samples: Uint8Array[];
  /** One per sample. */
  labels: number[];
}

export interface Score {
  /** Mean loss. */
  loss: number;
  accuracy: number;
}

export interface EpochReport {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  msPerStep: number;
  /** Device ticks per training step, in the device's tick unit. */
  ticksPerStep: number;
}

export interface StepRecord {
  epoch: number;
  /** Index of the sample in the training set. */
  sample: number;
  label: number;
  loss: number;
  predicted: number;
}

/** Running sums of the epoch in progress. */
export interface EpochSums { loss: number; correct: number; ticks: number; ms: number }

/** Where a run is and what it has learned, after a confirmed step: enough to resume it exactly. */
export interface SessionState {
  /** The next step to run: epoch (1-based) and index in that epoch's shuffled order. */
  epoch: number;
  step: number;
  sums: EpochSums;
  params: Uint8Array;
  momentum: Uint8Array;
  epochs: EpochReport[];
  steps: StepRecord[];
  /** The held-out score before the first step (when it was evaluated). */
  before?: Score;
}

/** One pass's progress: `done` of `total` samples, with the pass's loss sum and correct count so far. */
export interface SessionProgress {
  pass: 'train' | 'evaluate';
  /** 1-based; 0 for the evaluation before the first epoch. */
  epoch: number;
  epochs: number;
  done: number;
  total: number;
  loss: number;
  correct: number;
}

export interface SessionOptions {
  device: Device;
  train: Samples;
  /** Held-out samples, evaluated (no update) after every epoch. */
  val?: Samples;
  epochs: number;
  /** The sample order of epoch 1, 2, ... (indices into `train`): shuffledEpochs, or one fixed order. */
  orders: Iterable<number[]>;
  /** Set on the device before the first step. */
  hyper?: { lr: number; momentum: number };
  /** How hard each request tries (the device's own default when absent). */
  patience?: Patience;
  /** Also evaluate `val` before the first epoch (not when resuming). */
  evaluateBefore?: boolean;
  /** A non-finite loss stops the run with an error (default true). */
  stopWhenDiverged?: boolean;
  /** Read the learned bytes at the start, every `every` steps and at every epoch's end, and hand them to `save`. */
  checkpoint?: { every?: number; save(state: SessionState): void };
  /** A checkpoint to continue from: its bytes are written back and its epochs and steps kept. */
  resume?: SessionState;
  onProgress?(p: SessionProgress): void;
}

export interface SessionResult {
  before?: Score;
  epochs: EpochReport[];
  steps: StepRecord[];
}

/** Fisher-Yates in place, drawing from `random`. */
export function shuffle(order: number[], random: () => number): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
}

/** `mcutrain train`'s epoch orders: one seeded order of `n` samples, shuffled again for each epoch. */
export function* shuffledEpochs(n: number, seed: number): Generator<number[]> {
  const random = seededUniform(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (;;) {
    shuffle(order, random);
    yield order.slice();
  }
}

/** The contribution runs' order: seeded shuffles of [0, n), each from the identity, one after another, `steps` in all. */
export function stepOrder(n: number, steps: number, seed: number): number[] {
  const random = seededUniform(seed);
  const order: number[] = [];
  while (order.length < steps) {
    const pass = Array.from({ length: n }, (_, i) => i);
    shuffle(pass, random);
    order.push(...pass.slice(0, steps - order.length));
  }
  return order;
}

const noSums = (): EpochSums => ({ loss: 0, correct: 0, ticks: 0, ms: 0 });

/** One sample's loss and predicted class: the training engine's EVALUATE, or (mcutrain eval) an inference-only engine's INFER. */
export type Scorer = (device: Device, sample: Uint8Array, label: number) => Promise<{ loss: number; predicted: number }>;

/**
 * The mean loss and accuracy on `set` (EVALUATE: no update, unless `score` says otherwise); `report` sees every
 * sample, with the sums so far and the sample's label and prediction.
 */
export async function evaluateOn(device: Device, set: Samples, patience: Patience = {},
  report?: (done: number, loss: number, correct: number, sample: { label: number; predicted: number }) => void,
  score: Scorer = (d, sample, label) => d.evaluate(sample, label, patience)): Promise<Score> {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < set.samples.length; i++) {
    const label = set.labels[i];
    const r = await score(device, set.samples[i], label);
    loss += r.loss;
    if (r.predicted === label) correct++;
    report?.(i + 1, loss, correct, { label, predicted: r.predicted });
  }
  return { loss: loss / set.samples.length, accuracy: correct / set.samples.length };
}

export class TrainingSession {
  /** The last state known to hold after a confirmed step: resume and a partial save start from here. */
  lastCheckpoint: SessionState | undefined;
  /** True once the device holds this run's parameters: before that, a failure has nothing to save. */
  begun = false;
  private readonly epochReports: EpochReport[];
  private readonly steps: StepRecord[];
  private sums: EpochSums;
  private before: Score | undefined;
  private position: { epoch: number; step: number };
  /** False while a TRAIN_STEP is out whose outcome is unknown: the device may or may not have applied it. */
  private confirmed = true;

  constructor(private readonly o: SessionOptions) {
    const r = o.resume;
    this.lastCheckpoint = r;
    this.epochReports = r ? [...r.epochs] : [];
    this.steps = r ? [...r.steps] : [];
    this.sums = r ? { ...r.sums } : noSums();
    this.before = r?.before;
    this.position = { epoch: r?.epoch ?? 1, step: r?.step ?? 0 };
  }

  /** Sets the hyperparameters, then writes a resumed run's bytes back or checkpoints the starting ones. */
  async begin(): Promise<void> {
    const { device, hyper, resume, patience = {} } = this.o;
    if (hyper) await device.setHyper(hyper.lr, hyper.momentum);
    if (resume) {
      await device.writeParams('params', resume.params, 0, patience);
      if (resume.momentum.length > 0) await device.writeParams('momentum', resume.momentum, 0, patience);
    } else if (this.o.checkpoint) {
      await this.checkpointNow();
    }
    this.begun = true;
  }

  /** Checkpoints the current position, unless a step is in doubt (then the last checkpoint stands). */
  async checkpointNow(): Promise<void> {
    const { device, checkpoint, patience = {} } = this.o;
    if (!checkpoint || !this.confirmed) return;
    const params = await device.readParams('params', patience);
    const momentum = await device.readParams('momentum', patience);
    this.lastCheckpoint = {
      epoch: this.position.epoch, step: this.position.step, sums: { ...this.sums }, params, momentum,
      epochs: [...this.epochReports], steps: [...this.steps], ...(this.before ? { before: this.before } : {}),
    };
    checkpoint.save(this.lastCheckpoint);
  }

  /** Runs the epochs (after begin()); the figures include those of the run resumed. */
  async run(): Promise<SessionResult> {
    const { device, train, val, epochs, patience = {}, onProgress } = this.o;
    const every = this.o.checkpoint?.every;
    const evaluate = async (set: Samples, epoch: number) => {
      const total = set.samples.length;
      onProgress?.({ pass: 'evaluate', epoch, epochs, done: 0, total, loss: 0, correct: 0 });
      return evaluateOn(device, set, patience, (done, loss, correct) => onProgress?.({ pass: 'evaluate', epoch, epochs, done, total, loss, correct }));
    };
    if (val && this.o.evaluateBefore && !this.o.resume) this.before = await evaluate(val, 0);
    const orders = this.o.orders[Symbol.iterator]();
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const next = orders.next(); // also for the epochs a resumed run skips, so the orders are the same
      if (next.done) throw new Error(`the session has sample orders for ${epoch - 1} epoch(s), not ${epochs}`);
      const order = next.value;
      if (epoch < this.position.epoch) continue;
      const first = epoch === this.position.epoch ? this.position.step : 0;
      if (first === 0) this.sums = noSums();
      const sums = this.sums;
      const n = order.length;
      onProgress?.({ pass: 'train', epoch, epochs, done: first, total: n, loss: sums.loss, correct: sums.correct });
      for (let k = first; k < n; k++) {
        const i = order[k];
        const started = performance.now();
        this.confirmed = false;
        const r = await device.trainStep(train.samples[i], train.labels[i], patience);
        this.confirmed = true;
        this.position = { epoch, step: k + 1 };
        sums.ms += performance.now() - started;
        this.steps.push({ epoch, sample: i, label: train.labels[i], loss: r.loss, predicted: r.predicted });
        if (!Number.isFinite(r.loss) && this.o.stopWhenDiverged !== false) {
          throw new McutrainError(`the loss became ${r.loss} in epoch ${epoch} at step ${k + 1} (sample ${i})`, 'the training diverged: lower --lr');
        }
        sums.loss += r.loss;
        sums.ticks += r.ticks;
        if (r.predicted === train.labels[i]) sums.correct++;
        onProgress?.({ pass: 'train', epoch, epochs, done: k + 1, total: n, loss: sums.loss, correct: sums.correct });
        if (every !== undefined && (k + 1) % every === 0 && k + 1 < n) await this.checkpointNow();
      }
      const report: EpochReport = {
        epoch, trainLoss: sums.loss / n, trainAccuracy: sums.correct / n, msPerStep: sums.ms / n, ticksPerStep: sums.ticks / n,
      };
      if (val) {
        const r = await evaluate(val, epoch);
        report.valLoss = r.loss;
        report.valAccuracy = r.accuracy;
      }
      this.epochReports.push(report);
      this.position = { epoch: epoch + 1, step: 0 };
      this.sums = noSums();
      if (epoch < epochs) await this.checkpointNow();
    }
    return { ...(this.before ? { before: this.before } : {}), epochs: [...this.epochReports], steps: [...this.steps] };
  }
}
