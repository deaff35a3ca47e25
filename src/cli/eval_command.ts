/**
 * `mcutrain eval`: accuracy and loss of a project's engine on a labelled folder, on the host, the
 * emulated twin or a board, without changing anything on it. A training engine answers EVALUATE (its
 * own loss, as `train` reports it); an inference-only engine runs INFER and the loss is computed here
 * from its dequantized output (softmax cross-entropy of the logits, or -ln p when the model ends with
 * SOFTMAX).
 */
import path from 'node:path';
import { McutrainError } from '../errors.ts';
import { UsageError } from './exit_codes.ts';
import { readLabelledFolder, type LabelledSet } from '../data/labelled.ts';
import { importTfliteFile } from '../import/import_tflite.ts';
import { openProjectDevice } from '../connect/connect.ts';
import type { Device } from '../link/device.ts';
import { evaluateOn, type Score, type Scorer } from '../session/training_session.ts';
import { PROJECT_MODEL_FILE, readManifest, type IoTensorInfo, type ProjectManifest } from '../project/manifest.ts';
import type { Command } from './commands.ts';
import { printResult } from './json_output.ts';
import { onePositional, pixelsOption, str } from './options.ts';
import { decodeOutputs } from './outputs.ts';
import { PORT_HELP, PORT_OPTIONS, portOptions } from './port_options.ts';
import { progress } from './progress.ts';
import { formatTable } from '../util/table.ts';
import { warn } from './warn.ts';

const USAGE = 'eval <dir> --data <folder> [--pixels shift|bytes] [--json]';
/** Rounds of link attempts per sample, as train gives its steps: a noisy line slows the run, it does not end it. */
const SAMPLE_ROUNDS = 4;

export interface EvalReport {
  project: string;
  device: string;
  /** 'training': the engine's EVALUATE; 'inference': INFER, the loss computed on the host from the outputs. */
  engine: 'training' | 'inference';
  samples: number;
  correct: number;
  accuracy: number;
  /** Mean softmax cross-entropy (natural log). */
  loss: number;
  classes: { name: string; samples: number; correct: number }[];
}

/** Loss and predicted class of one sample from an inference-only engine's output. */

/** The class scores are the model's single output; `probabilities`: it ends with SOFTMAX. */
function inferenceScorer(output: IoTensorInfo, probabilities: boolean): Scorer {
  // An int8 probability of 0 stands for anything below one step of the output's scale.
  const floor = output.scale > 0 ? output.scale / 2 : Number.MIN_VALUE;
  return async (device, sample, label) => {
    const [decoded] = decodeOutputs(await device.infer(sample), [output]);
    const scores = decoded.real ?? decoded.values;
    let predicted = 0;
    for (let i = 1; i < scores.length; i++) if (scores[i] > scores[predicted]) predicted = i;
    if (probabilities) return { loss: -Math.log(Math.max(scores[label], floor)), predicted };
    const max = scores[predicted];
    return { loss: Math.log(scores.reduce((s, v) => s + Math.exp(v - max), 0)) + max - scores[label], predicted };
  };
}

/** Whether the project's model ends with SOFTMAX (through RESHAPE), from its copy of the model. */
function endsWithSoftmax(dir: string): boolean {
  const graph = importTfliteFile(path.join(dir, PROJECT_MODEL_FILE));
  let id = graph.outputs[0];
  for (;;) {
    const op = graph.operators.find((o) => o.outputs.includes(id));
    if (op?.kind === 'SOFTMAX') return true;
    if (op?.kind !== 'RESHAPE') return false;
    id = op.inputs[0];
  }
}

/** Accuracy and mean loss of the engine on `set`, per class too (a progress bar on a terminal). */
async function evaluateLabelled(device: Device, set: LabelledSet, score: Scorer): Promise<Omit<EvalReport, 'project' | 'device' | 'engine'>> {
  const classes = set.classNames.map((name) => ({ name, samples: 0, correct: 0 }));
  const bar = progress('evaluating');
  let result: Score;
  let correct = 0;
  try {
    result = await evaluateOn(device, set, {}, (done, _loss, correctSoFar, { label, predicted }) => {
      correct = correctSoFar;
      classes[label].samples++;
      if (predicted === label) classes[label].correct++;
      bar.update(done, set.samples.length, `acc ${((100 * correct) / done).toFixed(1)}%`);
    }, score);
  } finally {
    bar.done();
  }
  const n = set.samples.length;
  return { samples: n, correct, accuracy: result.accuracy, loss: result.loss, classes };
}

function classesOf(manifest: ProjectManifest, dir: string): number {
  if (manifest.training) return manifest.training.classes;
  if (manifest.outputs.length !== 1 || manifest.inputs.length !== 1) {
    throw new McutrainError(`the model of '${dir}' has ${manifest.inputs.length} input(s) and ${manifest.outputs.length} output(s); eval takes a classifier with one of each`,
      'evaluate a model with one input and one output of class scores');
  }
  const shape = manifest.outputs[0].shape;
  return shape[shape.length - 1];
}

function formatEvalReport(r: EvalReport): string {
  const pct = (correct: number, of: number) => (of === 0 ? '-' : `${((100 * correct) / of).toFixed(1)}%`);
  return [
    `evaluated '${r.project}' on ${r.device}: ${r.samples} samples in ${r.classes.length} classes`,
    formatTable(['class', 'samples', 'correct', 'accuracy'], r.classes.map((c) => [c.name, c.samples, c.correct, pct(c.correct, c.samples)]), new Set([1, 2, 3])),
    `accuracy ${pct(r.correct, r.samples)} (${r.correct} of ${r.samples}), loss ${r.loss.toFixed(4)} (mean softmax cross-entropy)`,
  ].join('\n');
}

export const EVAL_COMMAND: Command = {
  usage: USAGE,
  summary: 'accuracy and loss of the engine on a labelled folder (nothing is trained)',
  help: [
    'Options:',
    '  -d, --data FOLDER   samples as FOLDER/<class>/<files> (.bmp, .npy or raw .bin); class folders',
    '                      named 0, 1, ... are those labels, other names are sorted into 0..k-1',
    '  --pixels MODE       how .bmp pixels feed an int8 input: shift (pixel-128, default) or bytes',
    PORT_HELP,
    'A project compiled with --train is scored by its training engine (EVALUATE: the loss train reports);',
    'an inference-only one by INFER, the loss computed from its dequantized output.',
  ].join('\n'),
  options: { data: { type: 'string', short: 'd' }, pixels: { type: 'string', default: 'shift' }, ...PORT_OPTIONS },
  async run(pos, v) {
    const dir = onePositional(pos, 'one project folder', USAGE);
    const data = str(v.data);
    if (!data) throw new UsageError('eval needs labelled data', 'add --data <folder> (laid out as <folder>/<class>/<files>)');
    const pixels = pixelsOption(v);
    const port = portOptions(v);
    const manifest = readManifest(dir);
    const classes = classesOf(manifest, dir);
    const set = readLabelledFolder(data, manifest.inputs[0], { pixels, classes, warn });
    if (set.classNames.length < classes && set.classNames.some((name) => !/^\d+$/.test(name))) {
      // Named folders are numbered in sorted order: with a class missing, the ones after it shift.
      warn(`'${data}' has ${set.classNames.length} named class folders for a model of ${classes} classes: they are labels 0 to ${set.classNames.length - 1} ` +
        `(${set.classNames.join(', ')}); if a class of the training data is missing here, the labels are shifted (name class folders by their label, 0 to ${classes - 1}, to evaluate a subset)`);
    }
    const score: Scorer = manifest.training
      ? (device, sample, label) => device.evaluate(sample, label, { rounds: SAMPLE_ROUNDS })
      : inferenceScorer(manifest.outputs[0], endsWithSoftmax(dir));
    const device = await openProjectDevice(dir, manifest, port);
    try {
      const report: EvalReport = {
        project: dir, device: device.description, engine: manifest.training ? 'training' : 'inference', ...(await evaluateLabelled(device, set, score)),
      };
      printResult(v, report, () => formatEvalReport(report));
    } finally {
      await device.close();
    }
    return 0;
  },
};
