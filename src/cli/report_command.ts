/**
 * `mcutrain report`: the HTML report of a model's training plan or of a compiled project (its plan, the
 * linked image's Flash/SRAM when built), with a profile and a training history from their JSON files.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { McutrainError } from '../errors.ts';
import { imageFile, imageMemory } from '../build/build_project.ts';
import { isProjectDir, PROJECT_MODEL_FILE, readManifest, type ProjectManifest } from '../project/manifest.ts';
import { readBenchJson, readHistoryJson, readProfileJson } from '../report/read_inputs.ts';
import type { ReportInputs } from '../report/report_html.ts';
import { writeReport } from './report_file.ts';
import { DEFAULT_TARGET, loadTarget, PROJECT_BOARD_FILE } from '../targets/target.ts';
import { UsageError } from './exit_codes.ts';
import type { PlanReport } from '../project/plan_report.ts';
import type { Command } from './commands.ts';
import { typedOptions } from './config.ts';
import { planModel, TRAIN_HELP, TRAIN_OPTIONS } from './compile_command.ts';
import { optionValue, PATCH_HELP, str, type Values } from './options.ts';
import { warn } from './warn.ts';

/** A project's plan, from the copy of its model under the scheme, target, numerics and early stage it was compiled with. */
function projectPlan(dir: string, manifest: ProjectManifest): ReportInputs['plan'] {
  const t = manifest.training;
  if (!t) return undefined;
  let report: PlanReport;
  // a project compiled for a board file keeps a copy of it; the arithmetic is explicit, as the scheme text leaves out float
  const board = path.join(dir, PROJECT_BOARD_FILE);
  try {
    ({ report } = planModel(path.join(dir, PROJECT_MODEL_FILE), {
      train: t.scheme, grad: t.grad, arith: t.arith ?? 'float', target: existsSync(board) ? board : manifest.target,
      numerics: manifest.numerics, patches: manifest.patches ? 'auto' : 'off',
    }));
  } catch (e) {
    // after a long training run, the report still shows what it can
    if (!(e instanceof McutrainError)) throw e;
    warn(`the report of '${dir}' has no memory timeline: its plan cannot be made again (${e.message})`);
    return undefined;
  }
  if (report.trainArenaBytes !== t.trainArenaBytes) {
    warn(`the plan made again for '${dir}' has a ${report.trainArenaBytes} B training arena, the project ${t.trainArenaBytes} B ` +
      '(compiled with --patches fit or a budget?): the timeline shows the plan made again');
  }
  return report;
}

function projectBuild(dir: string, manifest: ProjectManifest): ReportInputs['build'] {
  const target = loadTarget(manifest.target, dir);
  const image = path.join(dir, imageFile(target.kind));
  return target.kind === 'mcu' && existsSync(image) ? imageMemory(image, target) : undefined;
}

/** What a project's report shows of itself: its training plan and, once built, its linked image (profile --report and train --report too). */
export function projectReportInputs(dir: string): ReportInputs {
  const manifest = readManifest(dir);
  return { title: `${manifest.model.file} on ${manifest.target} (${dir})`, plan: projectPlan(dir, manifest), build: projectBuild(dir, manifest) };
}

export const REPORT_COMMAND: Command = {
  usage: 'report [<model.tflite | dir>] [--train SCHEME] [--history train.json] [--profile profile.json] [--bench results.json] -o report.html',
  summary: 'one self-contained HTML file: memory timeline, latency, loss/accuracy curves, Flash/SRAM',
  help: [
    'Of a model, with --train: its training plan (as mcutrain plan). Of a project folder: the plan of the',
    'scheme it was compiled with, and the linked image\'s Flash and SRAM once built.',
    'Options:',
    '  -o, --out FILE       the HTML file to write (charts inline; it opens without a network)',
    '  --history FILE       loss and accuracy curves from mcutrain train --json-out FILE',
    '  --profile FILE       the per-operator latency chart from mcutrain profile --json > FILE',
    '  --bench FILE         the benchmark suite\'s results (bench/results/latest.json) as charts',
    '  --budget BYTES       an SRAM budget to mark on the memory timeline (e.g. 256KiB)',
    `  -t, --target NAME    a model's target (default ${DEFAULT_TARGET})`,
    '  --numerics tflm|tflite  as for compile',
    ...TRAIN_HELP,
    PATCH_HELP,
  ].join('\n'),
  options: {
    out: { type: 'string', short: 'o' }, history: { type: 'string' }, profile: { type: 'string' }, bench: { type: 'string' }, budget: { type: 'string' },
    target: { type: 'string', short: 't' }, numerics: { type: 'string', default: 'tflm' }, ...TRAIN_OPTIONS,
  },
  async run(pos, v: Values, context) {
    const typed = typedOptions(v, context);
    if (pos.length > 1) throw new UsageError(`expected at most one model file or project folder, got ${pos.join(' ')}`, `usage: mcutrain ${this.usage}`);
    const subject = pos[0];
    const out = str(v.out);
    if (!out) throw new UsageError('report needs an output file', 'add -o report.html');
    const inputs: ReportInputs = { budgetBytes: optionValue(v, 'budget') };
    if (subject === undefined) {
      if (typed.has('train')) throw new UsageError('--train needs a model file', `usage: mcutrain ${this.usage}`);
    } else if (isProjectDir(subject)) {
      const given = ['train', 'target', 'patches'].filter((k) => typed.has(k)); // MCUTRAIN_TARGET or the config file's are no mistake
      if (given.length) throw new UsageError(`--${given.join(', --')}: '${subject}' is a project, whose scheme and target are its own`, 'drop them, or report on the model file');
      Object.assign(inputs, projectReportInputs(subject));
    } else if (!existsSync(subject)) {
      throw new McutrainError(`'${subject}' is neither a model file nor a project folder`, 'check the path');
    } else if (v.train === undefined) {
      throw new UsageError(`the report of a model is its training plan: '${subject}' needs a scheme`, 'add --train "bias:last=4" (or a scheme .json file)');
    } else {
      inputs.plan = planModel(subject, v).report;
    }
    if (str(v.history)) inputs.history = readHistoryJson(str(v.history)!);
    if (str(v.profile)) inputs.profile = readProfileJson(str(v.profile)!);
    if (str(v.bench)) inputs.bench = readBenchJson(str(v.bench)!);
    if (!inputs.plan && !inputs.build && !inputs.history && !inputs.profile && !inputs.bench) {
      throw new McutrainError('nothing to report', 'give a model with --train SCHEME, a compiled project, --history, --profile or --bench');
    }
    await writeReport(out, inputs);
    console.log(`report: ${out}`);
    return 0;
  },
};
