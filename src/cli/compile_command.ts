/** `mcutrain compile` (optionally with a training scheme) and `mcutrain plan` (the training memory report). */
import path from 'node:path';
import { McutrainError } from '../errors.ts';
import { analyzeModel, compileModel, readModelFile, resolveScheme, type PatchMode, type TrainOptions } from '../project/compile_project.ts';
import type { Numerics } from '../lower/numerics.ts';
import { DEFAULT_TARGET, loadTarget } from '../targets/target.ts';
import { formatPlanReport, lifetimeSvg, makePlanReport } from '../train/plan_report.ts';
import { writeFileAtomic } from '../util/fs_atomic.ts';
import type { Command } from './commands.ts';
import { AUTO_HELP, AUTO_OPTIONS, autoScheme } from './scheme_command.ts';
import { schemeToString } from '../train/scheme.ts';
import { formatBytes } from './table.ts';

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

const TRAIN_HELP = [
  '  --train SCHEME       compile the training engine too: an inline scheme such as',
  '                       "bias:last=8,weights:layers=21,24@1/4" or a scheme .json file (docs/training.md)',
  '  --no-qas             train without Quantization-Aware Scaling (for comparison)',
  '  --momentum M         SGD momentum (default 0: plain SGD, no optimizer state in SRAM)',
  '  --lr LR              learning rate the firmware starts with (mcutrain train --lr changes it)',
  '  --no-reorder         plan only: the conventional order (every weight/bias gradient buffered,',
  '                       updates after the backward pass), to compare with the engine\'s in-place updates',
];

const PATCH_HELP = '  --patches auto|off   run the early stage patch by patch when that lowers the arena (default: auto with --train, off without)';

const TRAIN_OPTIONS = {
  patches: { type: 'string' },
  train: { type: 'string' },
  'no-qas': { type: 'boolean' },
  momentum: { type: 'string' },
  lr: { type: 'string' },
  'no-reorder': { type: 'boolean' },
} as const;

function numberOption(v: string | boolean | undefined, flag: string): number | undefined {
  const text = str(v);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new McutrainError(`${flag} must be a number, not '${text}'`);
  return n;
}

function trainOptions(v: Record<string, string | boolean | undefined>): TrainOptions | undefined {
  const scheme = str(v.train);
  if (scheme === undefined) {
    if (v['no-qas'] || v['no-reorder'] || v.momentum !== undefined || v.lr !== undefined) {
      throw new McutrainError('--no-qas, --no-reorder, --momentum and --lr need a training scheme', 'add --train "<scheme>"');
    }
    return undefined;
  }
  return {
    scheme, qas: v['no-qas'] ? false : undefined, momentum: numberOption(v.momentum, '--momentum'), lr: numberOption(v.lr, '--lr'),
    reorder: v['no-reorder'] ? false : undefined,
  };
}

function onePositional(positionals: string[], what: string, usage: string): string {
  if (positionals.length !== 1) throw new McutrainError(`expected ${what}, got ${positionals.length ? positionals.join(' ') : 'nothing'}`, `usage: mcutrain ${usage}`);
  return positionals[0];
}

export const COMPILE_COMMAND: Command = {
  usage: 'compile <model.tflite> [--target mps2-an500] [--numerics tflm] [--train SCHEME] -o <dir>',
  summary: 'generate the C project for a target (with --train: the on-device training engine too)',
  help: [
    'Options:',
    `  -t, --target NAME    board, emulated board or host (default ${DEFAULT_TARGET}, the emulated Cortex-M7; see mcutrain targets)`,
    '  -o, --out DIR        output folder (replaced atomically; must be empty or an mcutrain project)',
    '  --numerics tflm      reproduce TensorFlow Lite Micro\'s reference kernels bit for bit (default)',
    '  --numerics tflite    reproduce the TensorFlow Lite interpreter instead (it rounds CONV_2D and',
    '                       FULLY_CONNECTED once, not twice; see docs/semantics.md)',
    ...TRAIN_HELP,
    PATCH_HELP,
    '  --train auto         choose the scheme first, as mcutrain scheme does, with:',
    ...AUTO_HELP,
  ].join('\n'),
  options: {
    target: { type: 'string', short: 't', default: DEFAULT_TARGET }, out: { type: 'string', short: 'o' }, numerics: { type: 'string', default: 'tflm' },
    ...TRAIN_OPTIONS, ...AUTO_OPTIONS,
  },
  async run(pos, v) {
    const file = onePositional(pos, 'one model file', this.usage);
    const out = str(v.out);
    if (!out) throw new McutrainError('compile needs an output folder', 'add -o <dir>');
    let train = trainOptions(v);
    if (train?.scheme === 'auto') {
      train = { ...train, scheme: schemeToString((await autoScheme(file, v)).scheme) };
      console.log('');
    } else if (v.budget !== undefined || v.data !== undefined || v.val !== undefined) {
      throw new McutrainError('--budget, --data and --val are for --train auto', 'add --train auto, or drop them');
    }
    const started = performance.now();
    const { manifest } = compileModel({
      modelPath: file, target: str(v.target) ?? DEFAULT_TARGET, outDir: out, numerics: str(v.numerics) as Numerics, train,
      patches: str(v.patches) as PatchMode | undefined,
    });
    const ms = performance.now() - started;
    console.log(`compiled ${manifest.model.file} for ${manifest.target} (${manifest.numerics} numerics) into ${out} in ${ms.toFixed(0)} ms`);
    console.log(`  operators ${manifest.ops.length}, MACs ${manifest.macs.toLocaleString('en-US')}`);
    console.log(`  SRAM arena ${formatBytes(manifest.arenaBytes)} (lower bound ${formatBytes(manifest.lowerBoundBytes)})`);
    console.log(`  Flash constants ${formatBytes(manifest.constBytes)}`);
    if (manifest.patches) {
      console.log(`  early stage (${manifest.patches.ops.length} operators) runs as ${manifest.patches.grid}x${manifest.patches.grid} patches, ` +
        `recomputing ${manifest.patches.extraMacs.toLocaleString('en-US')} MACs in their halos`);
    }
    const t = manifest.training;
    if (t) {
      console.log(`  training ${t.scheme}: ${t.params.length} trained tensors, ${formatBytes(t.paramBytes)} in SRAM` +
        `${t.momentumBytes ? ` + ${formatBytes(t.momentumBytes)} momentum` : ''}; step arena ${formatBytes(t.trainArenaBytes)} ` +
        `(lower bound ${formatBytes(t.trainLowerBoundBytes)}), MACs forward ${t.macsForward.toLocaleString('en-US')} backward ${t.macsBackward.toLocaleString('en-US')}`);
    }
    return 0;
  },
};

export const PLAN_COMMAND: Command = {
  usage: 'plan <model.tflite> --train SCHEME [--target mps2-an500] [--svg chart.svg] [--json report.json]',
  summary: 'report a training scheme\'s peak SRAM, lower bound, Flash, MACs and buffer lifetimes',
  help: [
    'Options:',
    `  -t, --target NAME    the board whose SRAM the scheme must fit (default ${DEFAULT_TARGET})`,
    ...TRAIN_HELP,
    PATCH_HELP,
    '  --numerics tflm|tflite  as for compile',
    '  --svg FILE           write the lifetime chart of the training step (SVG)',
    '  --json FILE          write the whole report (every buffer and step) as JSON',
  ].join('\n'),
  options: { target: { type: 'string', short: 't', default: DEFAULT_TARGET }, numerics: { type: 'string', default: 'tflm' }, svg: { type: 'string' }, json: { type: 'string' }, ...TRAIN_OPTIONS },
  async run(pos, v) {
    const file = onePositional(pos, 'one model file', this.usage);
    const train = trainOptions(v);
    if (!train) throw new McutrainError('plan needs a training scheme', 'add --train "bias:last=4" (or a scheme .json file)');
    const target = loadTarget(str(v.target) ?? DEFAULT_TARGET);
    const analysis = analyzeModel(readModelFile(file), path.basename(file), (str(v.numerics) ?? 'tflm') as Numerics, resolveScheme(train),
      { reorder: train.reorder, patches: str(v.patches) as PatchMode | undefined });
    const report = makePlanReport(analysis, analysis.training!, target);
    console.log(formatPlanReport(report));
    const svg = str(v.svg);
    if (svg) {
      writeFileAtomic(svg, lifetimeSvg(report));
      console.log(`\nlifetime chart: ${svg}`);
    }
    const json = str(v.json);
    if (json) writeFileAtomic(json, JSON.stringify(report, null, 2) + '\n');
    return 0;
  },
};
