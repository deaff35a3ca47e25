/** `mcutrain compile` (optionally with a training scheme) and `mcutrain plan` (the training memory report). */
import path from 'node:path';
import { printResult } from './json_output.ts';
import { McutrainError } from '../errors.ts';
import { UsageError } from './exit_codes.ts';
import { analyzeModel, fitWithin, type Analysis } from '../pipeline/pipeline.ts';
import { compileModel, readModelFile, resolveScheme, type TrainOptions } from '../project/compile_project.ts';
import { fitVerdict, requireFit, type FitVerdict } from '../project/fit.ts';
import { DEFAULT_TARGET, loadTarget } from '../targets/target.ts';
import { formatPlanReport, makePlanReport, type PlanReport } from '../project/plan_report.ts';
import { planModelFile } from '../project/plan_model.ts';
import { describePatchStage, extraMacsShare, parsePatchMode, type PatchMode } from '../plan/patch_stage.ts';
import { writeFileAtomic } from '../util/fs_atomic.ts';
import { writeReport, writeTimelineSvg } from './report_file.ts';
import type { Command } from './commands.ts';
import { typedOptions } from './config.ts';
import { AUTO_HELP, AUTO_OPTIONS, autoScheme } from './scheme_command.ts';
import { formatBytes } from '../util/table.ts';
import { numericsOption, onePositional, optionValue, PATCH_HELP, str, type Values } from './options.ts';

export const TRAIN_HELP = [
  '  --train SCHEME       compile the training engine too: an inline scheme such as',
  '                       "bias:last=8,weights:layers=21,24@1/4" or a scheme .json file (docs/training.md);',
  '                       @1/4 trains the first quarter of a layer\'s output channels, @in1/4 of its',
  '                       input channels (1x1 convolutions and FULLY_CONNECTED layers)',
  '  --no-qas             train without Quantization-Aware Scaling (for comparison)',
  '  --momentum M         SGD momentum (default 0: plain SGD, no optimizer state in SRAM)',
  '  --grad f32|i16|i8    storage of the gradients: float32 (default), or int16 / int8 with a power-of-two',
  '                       scale per tensor chosen at run time (half / a quarter of the gradient memory)',
  '  --arith int|float    training arithmetic: integer-only (no float, no soft-float; int16 gradients unless',
  '                       --grad i8; no momentum) or float32; default int on cores without an FPU, else float',
  '  --lr LR              learning rate the firmware starts with (mcutrain train --lr changes it)',
  '  --no-reorder         plan only: the conventional order (every weight/bias gradient buffered,',
  '                       updates after the backward pass), to compare with the engine\'s in-place updates',
];

export const TRAIN_OPTIONS = {
  patches: { type: 'string' },
  train: { type: 'string' },
  'no-qas': { type: 'boolean' },
  momentum: { type: 'string' },
  lr: { type: 'string' },
  grad: { type: 'string' },
  arith: { type: 'string' },
  'no-reorder': { type: 'boolean' },
} as const;

/** The --train options; `typed` (the options typed on the command line): those that need a scheme are refused without one, not those a config file gives. */
function trainOptions(v: Values, typed?: ReadonlySet<string>): TrainOptions | undefined {
  const scheme = str(v.train);
  if (scheme === undefined) {
    if (['no-qas', 'no-reorder', 'momentum', 'lr', 'grad', 'arith'].some((k) => typed ? typed.has(k) : v[k] !== undefined && v[k] !== false)) {
      throw new UsageError('--no-qas, --no-reorder, --momentum, --lr, --arith and --grad need a training scheme', 'add --train "<scheme>"');
    }
    return undefined;
  }
  return {
    scheme, qas: v['no-qas'] ? false : undefined, momentum: optionValue(v, 'momentum'), lr: optionValue(v, 'lr'),
    reorder: v['no-reorder'] ? false : undefined, grad: optionValue(v, 'grad'), arith: optionValue(v, 'arith'),
  };
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
    '                       FULLY_CONNECTED once, not twice, and takes its own paths through MEAN;',
    '                       see docs/semantics.md)',
    ...TRAIN_HELP,
    PATCH_HELP,
    '  --train auto         choose the scheme first, as mcutrain scheme does, with:',
    ...AUTO_HELP,
  ].join('\n'),
  options: {
    target: { type: 'string', short: 't', default: DEFAULT_TARGET }, out: { type: 'string', short: 'o' }, numerics: { type: 'string', default: 'tflm' },
    ...TRAIN_OPTIONS, ...AUTO_OPTIONS,
  },
  async run(pos, v, context) {
    const typed = typedOptions(v, context);
    const file = onePositional(pos, 'one model file', this.usage);
    const out = str(v.out);
    if (!out) throw new UsageError('compile needs an output folder', 'add -o <dir>');
    const numerics = numericsOption(v);
    const patches = optionValue(v, 'patches');
    let train = trainOptions(v, typed);
    let fitWithinBytes: number | undefined;
    if (train?.scheme === 'auto') {
      const chosen = await autoScheme(file, v);
      train = { ...train, scheme: chosen.scheme };
      fitWithinBytes = chosen.budget;
      console.log('');
    } else {
      const search = Object.keys(AUTO_OPTIONS).filter((k) => typed.has(k)).map((k) => `--${k}`);
      if (search.length > 0) throw new UsageError(`${search.join(', ')} ${search.length > 1 ? 'are' : 'is'} for --train auto`, 'add --train auto, or drop them');
    }
    const started = performance.now();
    const { manifest, fit } = compileModel({ modelPath: file, target: str(v.target) ?? DEFAULT_TARGET, outDir: out, numerics, train, patches, fitWithinBytes });
    const ms = performance.now() - started;
    console.log(`compiled ${manifest.model.file} for ${manifest.target} (${manifest.numerics} numerics) into ${out} in ${ms.toFixed(0)} ms`);
    console.log(`  operators ${manifest.ops.length}, MACs ${manifest.macs.toLocaleString('en-US')}`);
    console.log(`  SRAM arena ${formatBytes(manifest.arenaBytes)} (lower bound ${formatBytes(manifest.lowerBoundBytes)})`);
    console.log(`  Flash constants ${formatBytes(manifest.constBytes)}`);
    if (manifest.patches) console.log(`  early stage: ${describePatchStage({ ...manifest.patches, forwardMacs: manifest.macs })}`);
    const t = manifest.training;
    if (t) {
      console.log(`  training ${t.scheme}: ${t.params.length} trained tensors, ${formatBytes(t.paramBytes)} in SRAM` +
        `${t.momentumBytes ? ` + ${formatBytes(t.momentumBytes)} momentum` : ''}; step arena ${formatBytes(t.trainArenaBytes)} ` +
        `(lower bound ${formatBytes(t.trainLowerBoundBytes)}), MACs forward ${t.macsForward.toLocaleString('en-US')} backward ${t.macsBackward.toLocaleString('en-US')}`);
    }
    console.log(`  ${fit.summary}`);
    printResult(v, { outDir: out, ms: Math.round(ms), fit, manifest });
    return 0;
  },
};

/** The early stage as `plan` reports it (text and --json): null when it runs whole. */
interface PlanPatches { ops: number[]; grid: number; extraMacs: number; forwardMacs: number; extraMacsShare: number }

const withPatches = (r: PlanReport, a: Analysis): PlanReport & { patches: PlanPatches | null } => ({
  ...r,
  patches: a.patches ? { ops: a.patches.ops, grid: a.patches.grid, extraMacs: a.patches.extraMacs, forwardMacs: a.patches.forwardMacs, extraMacsShare: extraMacsShare(a.patches) } : null,
});

function formatPlanPatches(p: PlanPatches | null, mode: PatchMode, fits: boolean): string {
  const why = mode === 'off' ? '--patches off' : mode === 'fit' && fits ? 'the build fits without patches' : 'no patch layout lowers the arena';
  return `Early stage: ${p ? describePatchStage(p) : `runs whole (${why})`}`;
}

/** The training plan of a model under the --train, --target, --numerics and --patches options (plan and report). */
export function planModel(file: string, v: Values): { report: PlanReport & { patches: PlanPatches | null }; fit: FitVerdict; patches: PatchMode } {
  const train = trainOptions(v);
  if (!train) throw new McutrainError('a training plan needs a training scheme', 'add --train "bias:last=4" (or a scheme .json file)');
  const target = loadTarget(str(v.target) ?? DEFAULT_TARGET);
  const patches = optionValue(v, 'patches');
  const { analysis, fit } = planModelFile(file, { target, numerics: numericsOption(v), train, patches });
  return { report: withPatches(makePlanReport(analysis, analysis.training!, target, fit), analysis), fit, patches: parsePatchMode(patches, true) };
}

export const PLAN_COMMAND: Command = {
  usage: 'plan <model.tflite> --train SCHEME [--target mps2-an500] [--svg chart.svg] [--json] [--json-out report.json] [--report report.html]',
  summary: 'report a training scheme\'s peak SRAM, lower bound, Flash, MACs and buffer lifetimes',
  help: [
    'Options:',
    `  -t, --target NAME    the board whose SRAM the scheme must fit (default ${DEFAULT_TARGET})`,
    ...TRAIN_HELP,
    PATCH_HELP,
    '  --numerics tflm|tflite  as for compile',
    '  --svg FILE           write the memory timeline of the training step (SVG; --report has it with more)',
    '  --json               print the whole report (every buffer and step) as JSON on stdout',
    '  --json-out FILE      also write it to FILE (formerly --json FILE)',
    '  --report FILE        write the HTML report: memory timeline, buffers, trained layers, Flash/SRAM',
  ].join('\n'),
  options: { target: { type: 'string', short: 't', default: DEFAULT_TARGET }, numerics: { type: 'string', default: 'tflm' }, svg: { type: 'string' }, 'json-out': { type: 'string' }, report: { type: 'string' }, ...TRAIN_OPTIONS },
  async run(pos, v) {
    const file = onePositional(pos, 'one model file', this.usage);
    const { report, fit, patches } = planModel(file, v);
    printResult(v, report, () => `${formatPlanReport(report)}\n${formatPlanPatches(report.patches, patches, fit.fits)}`);
    const svg = str(v.svg);
    if (svg) {
      await writeTimelineSvg(svg, report);
      console.log(`\nmemory timeline: ${svg}`);
    }
    const jsonOut = str(v['json-out']);
    if (jsonOut) writeFileAtomic(jsonOut, JSON.stringify(report, null, 2) + '\n');
    const html = str(v.report);
    if (html) {
      await writeReport(html, { plan: report });
      console.log(`\nreport: ${html}`);
    }
    requireFit(fit); // over the target's memory: the report above, then the verdict as the error (exit 1)
    return 0;
  },
};
