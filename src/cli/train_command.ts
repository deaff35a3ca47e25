/**
 * `mcutrain train`: SGD on the device over a labelled folder, epoch by epoch, with an optional
 * validation set; `mcutrain weights`: the device's trained parameters put back into a copy of the
 * original .tflite.
 */
import path from 'node:path';
import { printResult } from './json_output.ts';
import { McutrainError } from '../errors.ts';
import { UsageError } from './exit_codes.ts';
import { readLabelledFolder } from '../data/labelled.ts';
import { withTrainedParams } from '../export/apply_weights.ts';
import { splitBlock } from '../ir/tensor_block.ts';
import { writeTflite } from '../export/write_tflite.ts';
import type { Graph } from '../ir/graph.ts';
import { openProjectDevice } from '../connect/connect.ts';
import type { Device, TrainInfo } from '../link/device.ts';
import { readManifest, type ProjectManifest, type TrainingInfo } from '../project/manifest.ts';
import { loadProjectModel, projectTraining } from '../project/project_model.ts';
import { loadTarget } from '../targets/target.ts';
import { dataSha256, paramLayout, readCheckpoint, removeCheckpoint, writeCheckpoint, type RunIdentity } from '../session/checkpoint.ts';
import { shuffledEpochs, TrainingSession, type SessionProgress } from '../session/training_session.ts';
import { writeFileAtomic } from '../util/fs_atomic.ts';
import type { Command } from './commands.ts';
import { PORT_HELP, PORT_OPTIONS, portOptions } from './port_options.ts';
import { onePositional, optionValue, pixelsOption, str } from './options.ts';
import { progress, type Progress } from './progress.ts';
import { warn } from './warn.ts';
import { projectReportInputs } from './report_command.ts';
import { writeReport } from './report_file.ts';
import { formatBytes, formatTable } from '../util/table.ts';

const TRAIN_USAGE = 'train <dir> --data <folder> [--val <folder>] [--epochs 1] [--lr 0.05] [--momentum 0] [--seed 1] [--json] [--json-out run.json] [--report report.html] [-o tuned.tflite] [--resume]';
/** Rounds of link attempts for one step before training stops (each round resends the same request; see Patience). */
const STEP_ROUNDS = 4;
const DEFAULT_CHECKPOINT_EVERY = 50;
const WEIGHTS_USAGE = 'weights <dir> -o <tuned.tflite>';

/** The firmware must run the training engine this project describes, or offsets and labels mean nothing. */
async function checkDevice(device: Device, training: TrainingInfo, dir: string): Promise<TrainInfo> {
  const hello = await device.hello();
  if (!hello.training) {
    throw new McutrainError(`${device.description} runs firmware built without training, but '${dir}' was compiled with it`,
      `build it again (mcutrain build ${dir}) and flash it`);
  }
  const info = await device.trainInfo();
  const sizes = (ps: { bytes: number }[]) => ps.map((p) => p.bytes).join(',');
  if (info.classes !== training.classes || info.inputBytes !== training.inputBytes || sizes(info.params) !== sizes(training.params)) {
    throw new McutrainError(
      `the training engine on ${device.description} (${info.classes} classes, ${info.inputBytes}-byte samples, params ${sizes(info.params)} B) ` +
      `differs from '${dir}' (${training.classes} classes, ${training.inputBytes}-byte samples, params ${sizes(training.params)} B)`,
      `build it again (mcutrain build ${dir}) and flash it`);
  }
  return info;
}

/** Converter tensor names can join a dozen fused names with ';': the first, cut to a table column. */
function shortName(name: string): string {
  const first = name.split(';')[0];
  const cut = first.length > 48 ? `${first.slice(0, 47)}…` : first;
  return cut === name ? cut : `${cut} (…)`;
}

/** Reads the trained parameters from the device and writes the model with them; prints what changed. */
async function saveWeights(device: Device, training: TrainingInfo, original: Graph, out: string): Promise<void> {
  writeWeights(await device.readParams('params', { rounds: STEP_ROUNDS }), training, original, out, device.description);
}

/** Writes the model with the trained parameter bytes `params` (space 0, as read from `source`); prints what changed. */
function writeWeights(params: Uint8Array, training: TrainingInfo, original: Graph, out: string, source: string): void {
  const graph = withTrainedParams(original, training.params, params);
  const rows = training.params.map((p) => {
    const trained = params.subarray(p.offset, p.offset + p.bytes);
    const data = original.tensors[p.tensor]?.data;
    // A partly trained tensor's SRAM copy is its trained block (p.slice): compared with that block.
    const before = data && p.slice ? splitBlock(data, p.slice).block : data;
    const changed = before ? trained.reduce((n, b, i) => n + (b !== before[i] ? 1 : 0), 0) : p.bytes;
    return [p.layer, p.op, shortName(p.name), p.kind, p.dtype, p.bytes, changed];
  });
  writeFileAtomic(out, writeTflite(graph));
  console.log(`wrote ${out}: ${training.params.length} trained tensor(s), ${formatBytes(params.length)} from ${source}`);
  console.log(formatTable(['layer', 'op', 'tensor', 'kind', 'dtype', 'bytes', 'bytes changed'], rows, new Set([0, 1, 5, 6])));
}

const percent = (x: number) => `${(x * 100).toFixed(1)}%`;

function lossNote(loss: number, correct: number, n: number): string {
  return `loss ${(loss / n).toFixed(4)}  acc ${percent(correct / n)}`;
}

/** Where train keeps its checkpoint unless --checkpoint says otherwise. */
const checkpointFile = (dir: string) => path.join(dir, 'train-checkpoint.json');

/** The session's progress as one bar per pass: an epoch's steps, or an evaluation of the --val samples. */
function progressBars(): { onProgress(p: SessionProgress): void; close(): void } {
  let bar: Progress | undefined;
  let shown = '';
  const close = () => {
    bar?.done();
    bar = undefined;
    shown = '';
  };
  return {
    onProgress(p) {
      const label = p.pass === 'train' ? `epoch ${p.epoch}/${p.epochs}` : p.epoch === 0 ? 'validating before training' : `validating ${p.epoch}/${p.epochs}`;
      if (label !== shown) {
        close();
        bar = progress(label);
        shown = label;
      }
      if (p.done > 0) bar!.update(p.done, p.total, lossNote(p.loss, p.correct, p.done));
      if (p.done === p.total) close();
    },
    close,
  };
}

export const TRAIN_COMMAND: Command = {
  usage: TRAIN_USAGE,
  summary: 'train the model on the device (SGD on labelled samples)',
  help: [
    'Options:',
    '  -d, --data FOLDER   training samples as FOLDER/<class>/<files> (.bmp, .npy or raw .bin); class',
    '                      folders named 0, 1, ... are those labels, other names are sorted into 0..k-1',
    '  --val FOLDER        validation samples, same layout, class folders named as in --data; evaluated',
    '                      (no update) before the first epoch and after every epoch',
    '  --epochs N          passes over the training samples (default 1)',
    '  --lr X              learning rate (default: the one compiled in, see mcutrain.json)',
    '  --momentum X        SGD momentum in [0, 1) (default: the one compiled in; needs momentum buffers)',
    '  --seed N            seed of the per-epoch shuffle (default 1)',
    '  --pixels MODE       how .bmp pixels feed an int8 input: shift (pixel-128, default) or bytes',
    '  --json              print every step\'s loss and the per-epoch figures as JSON on stdout',
    '  --json-out FILE     also write them to FILE (formerly --json FILE)',
    '  --report FILE       also write the HTML report: loss and accuracy curves with the project\'s plan and memory',
    '  -o, --out FILE      at the end, save the trained model as a .tflite (as mcutrain weights does);',
    '                      a run that must stop early saves what it had learned at its last checkpoint',
    '  --resume            continue a run that stopped early from its checkpoint (same data and --seed)',
    '  --checkpoint FILE   where the run keeps its checkpoint (default <dir>/train-checkpoint.json)',
    `  --checkpoint-every N  steps between checkpoints (default ${DEFAULT_CHECKPOINT_EVERY}; also at every epoch's end)`,
    PORT_HELP,
    'Training changes the parameters in the device\'s SRAM: a board, or its emulated twin, keeps them until',
    'it is reset (save them with mcutrain weights); the host engine\'s state ends with this command (use -o).',
    'A step the link cannot deliver is resent (the device runs it once) with growing pauses; if it still',
    'fails, training stops, keeping its checkpoint for --resume.',
  ].join('\n'),
  options: {
    data: { type: 'string', short: 'd' }, val: { type: 'string' }, epochs: { type: 'string', default: '1' }, lr: { type: 'string' },
    momentum: { type: 'string' }, seed: { type: 'string', default: '1' }, pixels: { type: 'string', default: 'shift' },
    'json-out': { type: 'string' }, report: { type: 'string' }, out: { type: 'string', short: 'o' }, resume: { type: 'boolean' }, checkpoint: { type: 'string' },
    'checkpoint-every': { type: 'string' }, ...PORT_OPTIONS,
  },
  async run(pos, v) {
    const dir = onePositional(pos, 'one project folder', TRAIN_USAGE);
    const data = str(v.data);
    if (!data) throw new UsageError('train needs training data', 'add --data <folder> (laid out as <folder>/<class>/<files>)');
    const epochs = optionValue(v, 'epochs')!;
    const seed = optionValue(v, 'seed')!;
    const lrOption = optionValue(v, 'lr');
    const momentumOption = optionValue(v, 'momentum');
    const pixels = pixelsOption(v);
    const checkpointEvery = optionValue(v, 'checkpoint-every') ?? DEFAULT_CHECKPOINT_EVERY;

    const manifest = readManifest(dir);
    const training = projectTraining(manifest, dir);
    if (manifest.inputs.length !== 1) {
      throw new McutrainError(`the model of '${dir}' has ${manifest.inputs.length} inputs; training feeds one`, 'train a model with a single input');
    }
    const lr = lrOption ?? training.lr;
    const momentum = momentumOption ?? training.momentum;
    const opts = { pixels, classes: training.classes, warn };
    const train = readLabelledFolder(data, manifest.inputs[0], opts);
    const val = str(v.val) ? readLabelledFolder(str(v.val)!, manifest.inputs[0], { ...opts, labelsOf: { folder: data, classNames: train.classNames } }) : undefined;
    const out = str(v.out);
    const original = out ? loadProjectModel(dir, manifest) : undefined;

    const ckFile = str(v.checkpoint) ?? checkpointFile(dir);
    const identity: RunIdentity = {
      modelSha256: manifest.model.sha256, dataSha256: dataSha256(train), samples: train.samples.length, seed, paramLayout: paramLayout(training.params),
    };
    const resumed = v.resume === true ? readCheckpoint(ckFile, identity) : undefined;

    const device = await openProjectDevice(dir, manifest, portOptions(v));
    const bars = progressBars();
    const session = new TrainingSession({
      device, train, val, epochs, orders: shuffledEpochs(train.samples.length, seed), hyper: { lr, momentum }, patience: { rounds: STEP_ROUNDS },
      evaluateBefore: true, resume: resumed,
      onProgress: (p) => {
        bars.onProgress(p);
        if (p.pass === 'evaluate' && p.epoch === 0 && p.done === p.total) console.log(`before training: val ${lossNote(p.loss, p.correct, p.total)}`);
      },
      checkpoint: { every: checkpointEvery, save: (state) => writeCheckpoint(ckFile, { identity, ...state }) },
    });
    let tickUnit = '';
    let result;
    try {
      await checkDevice(device, training, dir);
      tickUnit = (await device.hello()).tickUnit;
      await session.begin();
      if (resumed) console.log(`resuming from ${ckFile}: epoch ${resumed.epoch}, step ${resumed.step + 1}`);
      console.log(`training on ${device.description}: ${train.samples.length} samples in ${train.classNames.length} classes` +
        `${val ? `, ${val.samples.length} for validation` : ''}; lr ${lr}, momentum ${momentum}, ${epochs} epoch(s)`);
      result = await session.run();
      bars.close();
      const before = result.before ? [[0, '-', '-', result.before.loss.toFixed(4), percent(result.before.accuracy), '-', '-']] : [];
      console.log(formatTable(['epoch', 'train loss', 'train acc', 'val loss', 'val acc', 'ms/step', `${tickUnit || 'ticks'}/step`],
        [...before, ...result.epochs.map((r) => [
          r.epoch, r.trainLoss.toFixed(4), percent(r.trainAccuracy), r.valLoss === undefined ? '-' : r.valLoss.toFixed(4),
          r.valAccuracy === undefined ? '-' : percent(r.valAccuracy), r.msPerStep.toFixed(2), Math.round(r.ticksPerStep),
        ])], new Set([0, 1, 2, 3, 4, 5, 6])));
      if (out) await saveWeights(device, training, original!, out);
    } catch (error) {
      throw await stopEarly(error);
    } finally {
      bars.close();
      await device.close().catch(() => undefined);
    }
    removeCheckpoint(ckFile);

    /**
     * Training must stop: keep a checkpoint at the last confirmed state (taken now if the device still
     * answers and no step is in doubt), save -o from it, and say how to go on.
     */
    async function stopEarly(error: unknown): Promise<unknown> {
      if (!(error instanceof McutrainError) || !session.begun) return error;
      try {
        await session.checkpointNow();
      } catch {
        // the link is gone: the last checkpoint stands
      }
      const checkpoint = session.lastCheckpoint;
      if (!checkpoint) return error;
      const at = `epoch ${checkpoint.epoch}, step ${checkpoint.step + 1}`;
      if (out) {
        writeWeights(checkpoint.params, training, original!, out, `the checkpoint (${checkpoint.steps.length} step(s) learned)`);
      }
      const again = `mcutrain train ${dir} --data ${data} --seed ${seed}${str(v.checkpoint) ? ` --checkpoint ${ckFile}` : ''} --resume`;
      return new McutrainError(`${error.message}\ntraining stopped; its checkpoint (${checkpoint.steps.length} step(s) learned, next: ${at}) is in ${ckFile}` +
        `${out ? `, and ${out} holds what was learned by then` : ''}`,
        `${error.hint ? `${error.hint}; then ` : ''}continue with: ${again}`);
    }

    const run = {
      project: dir, device: device.description, tickUnit, lr, momentum, seed, classNames: train.classNames,
      ...(result.before ? { before: result.before } : {}), epochs: result.epochs, steps: result.steps,
    };
    const jsonOut = str(v['json-out']);
    if (jsonOut) writeFileAtomic(jsonOut, JSON.stringify(run, null, 2));
    const html = str(v.report);
    if (html) await writeReport(html, { ...projectReportInputs(dir), history: { device: device.description, ...result } });
    printResult(v, run);
    if (!out) console.log(keepingNote(dir, manifest, Boolean(portOptions(v).port)));
    return 0;
  },
};

/** Where what was learned is now, and how to keep it: a board (or its twin) holds it until reset; a host engine has ended. */
function keepingNote(dir: string, manifest: ProjectManifest, onPort: boolean): string {
  if (loadTarget(manifest.target, dir).kind === 'host') {
    return `the host engine's state ended with this command, and what it learned with it; to keep it, train with -o: mcutrain train ${dir} --data <folder> -o tuned.tflite`;
  }
  return `the trained parameters are in the ${onPort ? 'board' : 'emulated board'}'s SRAM until it is reset; save them with: mcutrain weights ${dir} -o tuned.tflite` +
    (onPort ? '' : ` (the emulated board runs on until mcutrain stop ${dir})`);
}

export const WEIGHTS_COMMAND: Command = {
  usage: WEIGHTS_USAGE,
  summary: 'save the parameters trained on the device into a copy of the model',
  help: [
    'Options:',
    '  -o, --out FILE   the .tflite to write: the project\'s model with the trained weights and biases',
    PORT_HELP,
    'Refused for a device that has run no training step since it was flashed or reset, and for a host',
    'project, whose engine\'s state ends with each command (save with mcutrain train -o instead).',
  ].join('\n'),
  options: { out: { type: 'string', short: 'o' }, ...PORT_OPTIONS },
  async run(pos, v) {
    const dir = onePositional(pos, 'one project folder', WEIGHTS_USAGE);
    const out = str(v.out);
    if (!out) throw new UsageError('weights needs an output file', 'add -o <tuned.tflite>');
    const manifest = readManifest(dir);
    const training = projectTraining(manifest, dir);
    const original = loadProjectModel(dir, manifest);
    if (loadTarget(manifest.target, dir).kind === 'host') {
      throw new McutrainError(`'${dir}' targets the host: its engine keeps what it learns only while one command runs, so there are no trained weights to read`,
        `train and save in one command: mcutrain train ${dir} --data <folder> -o tuned.tflite`);
    }
    const device = await openProjectDevice(dir, manifest, portOptions(v));
    try {
      const info = await checkDevice(device, training, dir);
      if (info.steps === 0) {
        throw new McutrainError(`${device.description} has run no training step since it was flashed or reset: it holds the parameters compiled in, nothing learned`,
          `train it first (mcutrain train ${dir} --data <folder>), or train and save in one command with -o tuned.tflite`);
      }
      await saveWeights(device, training, original, out);
      printResult(v, { out, device: device.description, steps: info.steps });
    } finally {
      await device.close();
    }
    return 0;
  },
};
