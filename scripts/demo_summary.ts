/**
 * The demo's closing summary (scripts/demo.sh): reads what the demo's commands wrote into its folder
 * (eval --json before and after, train --json, profile --json, the project's mcutrain.json and
 * firmware.elf, the tuned model's host eval, infer --json of the person-detection images), prints a
 * short table and writes <folder>/summary.json.
 *
 *   node --import tsx scripts/demo_summary.ts <demo folder> <board project> <seconds so far>
 *
 * summary.json is the input the HTML report (issue 14 item 2) is meant to draw: one file with the
 * accuracy before/after, the loss curve, the profile and the memory figures.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { EvalReport } from '../src/cli/eval_command.ts';
import type { DecodedOutput } from '../src/cli/outputs.ts';
import type { ProfileReport } from '../src/cli/profile.ts';
import { formatBytes, formatTable } from '../src/cli/table.ts';
import { memoryUsage, readElfSections } from '../src/elf/elf.ts';
import { readManifest } from '../src/project/manifest.ts';
import { writeFileAtomic } from '../src/util/fs_atomic.ts';

interface TrainJson {
  device: string;
  tickUnit: string;
  lr: number;
  epochs: { epoch: number; trainLoss: number; trainAccuracy: number; ticksPerStep: number; msPerStep: number }[];
  steps: { loss: number }[];
}

const [folder, project, secondsArg] = process.argv.slice(2);
if (!folder || !project) throw new Error('usage: demo_summary.ts <demo folder> <board project> [seconds]');
const read = <T>(file: string): T => JSON.parse(readFileSync(path.join(folder, file), 'utf8')) as T;
const before = read<EvalReport>('before.json');
const after = read<EvalReport>('after.json');
const tunedOnHost = read<EvalReport>('tuned-host.json');
const train = read<TrainJson>('train.json');
const profile = read<ProfileReport>('profile.json');
const manifest = readManifest(project);
const training = manifest.training!;
const elf = path.join(project, 'firmware.elf');
const firmware = memoryUsage(readElfSections(new Uint8Array(readFileSync(elf)), elf));

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const count = (n: number) => Math.round(n).toLocaleString('en-US');
const stepTicks = train.epochs.reduce((s, e) => s + e.ticksPerStep, 0) / train.epochs.length;
// The loss curve in 10 windows: enough to see it fall, small enough to print.
const window = Math.max(1, Math.ceil(train.steps.length / 10));
const lossCurve = Array.from({ length: Math.ceil(train.steps.length / window) }, (_, i) => {
  const part = train.steps.slice(i * window, (i + 1) * window);
  return part.reduce((s, p) => s + p.loss, 0) / part.length;
});
// TFLite Micro's person-detection model: class 1 is person (its reference test's expectation).
const personScores = (image: string) => read<DecodedOutput[]>(`${image}.json`)[0].values;
const personDetection = Object.fromEntries(['person', 'no_person'].map((image) => {
  const [noPerson, person] = personScores(image);
  return [image, { scores: { no_person: noPerson, person }, top: person > noPerson ? 'person' : 'no_person' }];
}));
const slowest = [...profile.ops].sort((a, b) => b.ticks - a.ticks).slice(0, 3);

const summary = {
  model: manifest.model.file,
  target: manifest.target,
  device: train.device,
  scheme: training.scheme,
  trainedTensors: training.params.map((p) => ({ name: p.name, kind: p.kind, bytes: p.bytes })),
  data: { classes: after.classes.map((c) => c.name), fineTuneSteps: train.steps.length, epochs: train.epochs.length, testSamples: after.samples },
  accuracy: { before: before.accuracy, after: after.accuracy, tunedModelOnHost: tunedOnHost.accuracy },
  loss: { before: before.loss, after: after.loss, curve: lossCurve, curveWindowSteps: window },
  perClass: after.classes.map((c, i) => ({ name: c.name, samples: c.samples, before: before.classes[i].correct, after: c.correct })),
  tickUnit: profile.tickUnit,
  inference: { ticks: profile.totalTicks, ops: profile.ops },
  trainingStep: { ticks: Math.round(stepTicks), msOverLink: train.epochs[train.epochs.length - 1].msPerStep },
  memory: {
    trainArenaBytes: training.trainArenaBytes, inferenceArenaBytes: manifest.arenaBytes, trainedParamBytes: training.paramBytes,
    stackHighWaterBytes: profile.stackHighWaterBytes, firmwareFlashBytes: firmware.flashBytes, firmwareSramBytes: firmware.ramBytes,
  },
  personDetection,
  seconds: secondsArg === undefined ? null : Number(secondsArg),
};
writeFileAtomic(path.join(folder, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');

console.log(formatTable(['', ''], [
  ['model', `${manifest.model.file} (pretrained on digits 0-4), retargeted to digits ${after.classes.map((c) => c.name.replace(/^digit/, '')).join(', ')}`],
  ['board', `${train.device}`],
  ['training scheme', `${training.scheme}: ${training.params.length} tensors, ${formatBytes(training.paramBytes)} trained in SRAM`],
  ['accuracy', `${pct(before.accuracy)} before -> ${pct(after.accuracy)} after ${train.steps.length} steps on the board (${after.samples} unseen test digits)`],
  ['loss', `${before.loss.toFixed(3)} -> ${after.loss.toFixed(3)}; per step, in ${window}-step windows: ${lossCurve.map((l) => l.toFixed(2)).join(' ')}`],
  ['learned weights', `${path.join(folder, 'mnist59_tuned.tflite')}: ${pct(tunedOnHost.accuracy)} on the same digits, rebuilt for this computer`],
  ['one inference', `${count(profile.totalTicks)} ${profile.tickUnit} (slowest: ${slowest.map((o) => `#${o.index} ${o.kind} ${pct(o.share)}`).join(', ')})`],
  ['one training step', `${count(stepTicks)} ${profile.tickUnit} (${(stepTicks / profile.totalTicks).toFixed(1)}x an inference), ${summary.trainingStep.msOverLink.toFixed(0)} ms over the link`],
  ['memory', `training arena ${formatBytes(training.trainArenaBytes)}, stack ${formatBytes(profile.stackHighWaterBytes ?? 0)}; firmware SRAM ${formatBytes(firmware.ramBytes)}, Flash ${formatBytes(firmware.flashBytes)}`],
  ['person detection', `person_detect_int8.tflite: ${Object.entries(personDetection).map(([image, r]) => `${image}.bmp -> ${r.top} (${r.scores.no_person}, ${r.scores.person})`).join(', ')}`],
  ['summary', `${path.join(folder, 'summary.json')}${summary.seconds === null ? '' : ` (demo so far: ${summary.seconds} s)`}`],
]).split('\n').slice(2).join('\n'));
