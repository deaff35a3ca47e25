/** The CLI's commands: each parses its options and calls the stages. */
import path from 'node:path';
import { McutrainError } from '../errors.ts';
import { readModelFile } from '../project/compile_project.ts';
import { buildProject } from '../build/build_project.ts';
import { readManifest } from '../project/manifest.ts';
import { DEFAULT_TARGET, listTargets, loadTarget } from '../targets/target.ts';
import { readInputFile } from '../data/input_file.ts';
import { decodeOutputs, formatOutputs } from './outputs.ts';
import { openProjectDevice } from '../connect/connect.ts';
import { formatPorts, listBoardPorts } from '../link/ports.ts';
import { writeFileAtomic } from '../util/fs_atomic.ts';
import { formatInspectReport, inspectModel } from './inspect.ts';
import { formatBytes, formatTable } from '../util/table.ts';
import { formatProfileReport, makeProfileReport } from './profile.ts';
import { progress } from './progress.ts';
import { printResult } from './json_output.ts';
import { userBoards, type OptionSpec, type ProjectConfig } from './config.ts';
import { quantizeCommand } from './quantize_command.ts';
import { flashCommand } from './flash_command.ts';
import { ZOO_COMMAND } from './zoo_command.ts';
import { COMPILE_COMMAND, PLAN_COMMAND } from './compile_command.ts';
import { SCHEME_COMMAND } from './scheme_command.ts';
import { projectReportInputs, REPORT_COMMAND } from './report_command.ts';
import { writeReport } from './report_file.ts';
import { randomBytes } from 'node:crypto';
import { PORT_HELP, PORT_OPTIONS, portOptions } from './port_options.ts';
import { TRAIN_COMMAND, WEIGHTS_COMMAND } from './train_command.ts';
import { EVAL_COMMAND } from './eval_command.ts';
import { onePositional, optionValue, pixelsOption, str, type Values } from './options.ts';
import { qemuBoardOf } from '../emulate/qemu.ts';
import { startTwin, stopTwin, twinStatus } from '../emulate/twin.ts';
export type { OptionSpec };

export interface CommandContext {
  config: ProjectConfig;
  /** The options typed on the command line (not filled in from the environment, the config file or a default): a check that an option does not apply tests these. */
  typed: ReadonlySet<string>;
}

export interface Command {
  usage: string;
  summary: string;
  help: string;
  options: OptionSpec;
  /** Options taken only from the command line, never from MCUTRAIN_* or mcutrain.config.json. */
  flagOnly?: string[];
  /** `context`: what the command line settled besides the options (the config file read). */
  run(positionals: string[], values: Values, context?: CommandContext): Promise<number>;
}

export const COMMANDS: Record<string, Command> = {
  inspect: {
    usage: 'inspect <model.tflite> [--json]',
    summary: 'operators, tensors, quantization, SRAM/Flash estimate',
    help: '',
    options: {},
    async run(pos, v) {
      const file = onePositional(pos, 'one model file', this.usage);
      const report = inspectModel(readModelFile(file), path.basename(file));
      printResult(v, report, () => formatInspectReport(report));
      return 0;
    },
  },

  quantize: quantizeCommand,
  zoo: ZOO_COMMAND,

  compile: COMPILE_COMMAND,
  plan: PLAN_COMMAND,
  scheme: SCHEME_COMMAND,
  report: REPORT_COMMAND,

  build: {
    usage: 'build <dir> [--sanitize] [--portable]',
    summary: 'compile a generated project (host cc or arm-none-eabi-gcc)',
    help: [
      'Options:',
      '  --sanitize   host only: build with AddressSanitizer and UndefinedBehaviorSanitizer',
      '  --portable   boards: the portable C kernels, not the DSP (SIMD) ones the core could use',
    ].join('\n'),
    options: { sanitize: { type: 'boolean' }, portable: { type: 'boolean' } },
    async run(pos, v) {
      const dir = onePositional(pos, 'one project folder', this.usage);
      const r = buildProject(dir, { sanitize: v.sanitize === true, portable: v.portable === true });
      printResult(v, r);
      console.log(`built ${r.artifact}`);
      if (r.memory) {
        const m = r.memory;
        const pct = (used: number, of: number) => `${((used / of) * 100).toFixed(1)}%`;
        console.log(formatTable(['memory', 'used', 'of', 'share', 'text', 'rodata', 'data', 'bss'], [
          ['Flash', formatBytes(m.flashBytes), formatBytes(m.flashCapacity), pct(m.flashBytes, m.flashCapacity), m.text, m.rodata, m.data, ''],
          ['SRAM', formatBytes(m.ramBytes), formatBytes(m.ramCapacity), pct(m.ramBytes, m.ramCapacity), '', '', m.data, m.bss],
        ], new Set([1, 2, 3, 4, 5, 6, 7])));
      }
      return 0;
    },
  },

  flash: flashCommand,

  infer: {
    usage: 'infer <dir> --input <file> [-o out.bin] [--json]',
    summary: 'run one inference on the built engine',
    help: [
      'Options:',
      '  -i, --input FILE   .bin (raw bytes of all inputs), .npy, or .bmp',
      '  --pixels MODE      how .bmp pixels feed an int8 input: shift (pixel-128, default) or',
      '                     bytes (the pixel bytes as int8, as TFLite Micro\'s person-detection test data)',
      '  -o, --out FILE     also write the raw output bytes (all outputs concatenated)',
      '  --labels A,B,...   names for the classes of a 1-D output',
      PORT_HELP,
    ].join('\n'),
    options: {
      input: { type: 'string', short: 'i' }, out: { type: 'string', short: 'o' }, labels: { type: 'string' },
      pixels: { type: 'string', default: 'shift' }, ...PORT_OPTIONS,
    },
    async run(pos, v) {
      const dir = onePositional(pos, 'one project folder', this.usage);
      const input = str(v.input);
      if (!input) throw new McutrainError('infer needs an input', 'add --input <file> (.bin, .npy or .bmp)');
      const pixels = pixelsOption(v);
      const port = portOptions(v);
      const manifest = readManifest(dir);
      const data = readInputFile(input, manifest.inputs, pixels);
      const device = await openProjectDevice(dir, manifest, port);
      try {
        const raw = await device.infer(data);
        if (str(v.out)) writeFileAtomic(str(v.out)!, raw);
        const outputs = decodeOutputs(raw, manifest.outputs);
        printResult(v, outputs, () => formatOutputs(outputs, str(v.labels)?.split(',')));
      } finally {
        await device.close();
      }
      return 0;
    },
  },

  profile: {
    usage: 'profile <dir> [--runs N] [--input file] [--json] [--report report.html]',
    summary: 'per-operator latency, peak SRAM and Flash on the device',
    help: [
      'Options:',
      '  --runs N           inferences to take the median of (default 5)',
      '  -i, --input FILE   input to profile with (default: random bytes)',
      '  --pixels MODE      how .bmp pixels feed an int8 input: shift (default) or bytes, as for infer',
      '  --report FILE      also write the HTML report: the latency chart with the project\'s plan and memory',
      PORT_HELP,
      'Ticks are instructions on the emulated board (QEMU -icount), cycles on silicon, ns on the host.',
    ].join('\n'),
    options: { runs: { type: 'string', default: '5' }, input: { type: 'string', short: 'i' }, report: { type: 'string' }, pixels: { type: 'string', default: 'shift' }, ...PORT_OPTIONS },
    async run(pos, v) {
      const dir = onePositional(pos, 'one project folder', this.usage);
      const runs = optionValue(v, 'runs')!;
      const pixels = pixelsOption(v);
      const port = portOptions(v);
      const manifest = readManifest(dir);
      const input = str(v.input)
        ? readInputFile(str(v.input)!, manifest.inputs, pixels)
        : randomBytes(manifest.inputs.reduce((s, t) => s + t.bytes, 0));
      const device = await openProjectDevice(dir, manifest, port);
      const bar = progress('profiling');
      try {
        const profiles = [];
        for (let i = 0; i < runs; i++) {
          await device.infer(input);
          profiles.push(await device.profile());
          bar.update(i + 1, runs);
        }
        bar.done();
        const report = makeProfileReport(manifest, device.description, profiles);
        printResult(v, report, () => formatProfileReport(report));
        if (str(v.report)) await writeReport(str(v.report)!, { ...projectReportInputs(dir), profile: report });
      } finally {
        bar.done();
        await device.close();
      }
      return 0;
    },
  },

  train: TRAIN_COMMAND,
  weights: WEIGHTS_COMMAND,
  eval: EVAL_COMMAND,

  reset: {
    usage: 'reset <dir> [--port P]',
    summary: 'restart the board (or its emulated twin) on its flashed image: learned state is lost',
    help: [
      'Options:',
      '  -p, --port PATH    reset the board on this serial port (the link\'s RESET command)',
      '  --baud N           the port\'s baud rate (default: the target\'s UART setting)',
      'Without --port, the emulated twin starts its flashed image afresh, as at power-on.',
    ].join('\n'),
    options: { ...PORT_OPTIONS },
    async run(pos, v) {
      const dir = onePositional(pos, 'one project folder', this.usage);
      const port = portOptions(v);
      const manifest = readManifest(dir);
      const target = loadTarget(manifest.target, dir);
      if (target.kind === 'host') {
        throw new McutrainError(`'${dir}' targets the host: its engine runs only while one command runs, so there is nothing to reset`,
          'every command starts the host engine afresh from its compiled-in parameters');
      }
      if (port.port) {
        const device = await openProjectDevice(dir, manifest, port);
        try {
          await device.reset();
        } finally {
          await device.close();
        }
        console.log(`reset ${device.description}`);
        printResult(v, { reset: device.description });
        return 0;
      }
      const board = qemuBoardOf(target);
      if (!twinStatus(dir).flashed) throw new McutrainError(`no image was flashed into the emulated ${board.machine} board of '${dir}'`, `flash it: mcutrain flash ${dir}`);
      const twin = await startTwin(dir, board);
      console.log(`reset the emulated ${board.machine} board of '${dir}': its flashed image started afresh (QEMU pid ${twin.pid})`);
      printResult(v, { reset: `the emulated ${board.machine} board of '${dir}'`, pid: twin.pid });
      return 0;
    },
  },

  stop: {
    usage: 'stop <dir>',
    summary: 'end the emulated twin of a board project',
    help: 'The emulated board runs from mcutrain flash (or the first command that needs it) until this command.',
    options: {},
    async run(pos, v) {
      const dir = onePositional(pos, 'one project folder', this.usage);
      const stopped = await stopTwin(dir);
      printResult(v, { stopped: stopped ? { machine: stopped.machine, pid: stopped.pid } : null });
      console.log(stopped ? `stopped the emulated ${stopped.machine} board of '${dir}' (QEMU pid ${stopped.pid})` : `no emulated board is running for '${dir}'`);
      return 0;
    },
  },

  ports: {
    usage: 'ports [--json]',
    summary: 'serial ports that look like boards or debug probes',
    help: '',
    options: {},
    async run(_pos, v) {
      const ports = await listBoardPorts();
      printResult(v, ports, () => (ports.length ? formatPorts(ports) : 'no serial ports found'));
      return 0;
    },
  },

  targets: {
    usage: 'targets [--json]',
    summary: 'list the supported boards and hosts, and the user boards of mcutrain.config.json',
    help: 'User boards: --target ./myboard.json on any command, or a "boards" folder of <name>.json files in mcutrain.config.json.',
    options: {},
    async run(_pos, v, context) {
      const targets = [...listTargets().map((n) => ({ target: loadTarget(n), file: undefined as string | undefined })),
        ...(context ? userBoards(context.config) : []).map((file) => ({ target: loadTarget(file), file }))];
      const list = targets.map(({ target: t, file }) => ({
        name: t.name, default: t.name === DEFAULT_TARGET, kind: t.kind, cpu: t.cpu ?? null, sramBytes: t.sram?.bytes ?? null, flashBytes: t.flash?.bytes ?? null,
        runsOn: t.kind === 'host' ? 'this computer' : t.qemu ? `QEMU ${t.qemu.machine}` : (t.flashMethods ?? []).join(', '), description: t.description, file: file ?? null,
      }));
      printResult(v, list, () => formatTable(['target', 'core', 'SRAM / Flash', 'runs on', 'description'], list.map((t) => [
        t.name + (t.default ? ' (default)' : '') + (t.file ? ` (${t.file})` : ''), t.cpu ?? 'host',
        t.sramBytes === null ? '-' : `${t.sramBytes / 1024} KiB / ${t.flashBytes! / 1024} KiB`, t.runsOn, t.description,
      ])));
      return 0;
    },
  },
};
