/** `mcutrain zoo list` and `mcutrain zoo <name> -o model.tflite`: the built-in architectures as .tflite files. */
import { printResult } from './json_output.ts';
import { McutrainError } from '../errors.ts';
import { writeTflite } from '../export/write_tflite.ts';
import { analyzeModel } from '../pipeline/pipeline.ts';
import { flashConstBytes } from '../plan/flash.ts';
import { writeFileAtomic } from '../util/fs_atomic.ts';
import { modelStats } from '../zoo/model_stats.ts';
import { buildZooModel, DEFAULT_SEED, parseInputSize, ZOO, zooEntry, zooNames } from '../zoo/zoo.ts';
import type { Command } from './commands.ts';
import { formatBytes, formatTable } from '../util/table.ts';

const USAGE = 'zoo list | zoo <name> [--input 128x128x3] [--classes 10] [--seed 1] [--width W] [--float] -o <model.tflite>';

import { optionValue, str } from './options.ts';

function listZoo(): string {
  const rows = ZOO.map((e) => [
    e.name, e.input.join('x'), e.classes, e.width === undefined ? '-' : String(e.width), e.softmax ? 'softmax' : 'logits', e.description,
  ]);
  return formatTable(['name', 'input', 'classes', 'width', 'output', 'description'], rows, new Set([2]));
}

export const ZOO_COMMAND: Command = {
  usage: USAGE,
  summary: 'list the built-in architectures, or write one as a .tflite (int8 by default)',
  help: [
    'Subcommands:',
    '  zoo list             the architectures, their default input, classes and width',
    '  zoo <name> -o FILE   build one with seeded weights and write it as .tflite',
    'Options:',
    '  --input HxWxC        input size (default: the architecture\'s, see zoo list)',
    '  --classes N          classifier outputs (default: the architecture\'s)',
    `  --seed N             seed of the weight initialization (default ${DEFAULT_SEED})`,
    '  --width W            width multiplier, for the architectures that have one',
    '  --float              write the float32 model (default: int8, quantized with a calibration on',
    '                       seeded synthetic inputs, ready for mcutrain compile)',
    '  -o, --out FILE       the .tflite file to write',
    'The weights are random (Kaiming initialization), not trained: the models are for sizing, profiling',
    'and as starting points for on-device training.',
  ].join('\n'),
  options: {
    input: { type: 'string' }, classes: { type: 'string' }, seed: { type: 'string' }, width: { type: 'string' },
    float: { type: 'boolean' }, out: { type: 'string', short: 'o' },
  },
  async run(pos, v) {
    if (pos.length !== 1) {
      throw new McutrainError(`expected 'list' or one model name, got ${pos.length ? pos.join(' ') : 'nothing'}`,
        `usage: mcutrain ${USAGE}; models: ${zooNames().join(', ')}`);
    }
    if (pos[0] === 'list') {
      printResult(v, ZOO, listZoo);
      return 0;
    }
    const entry = zooEntry(pos[0]);
    const out = str(v.out);
    if (!out) throw new McutrainError(`zoo ${entry.name} needs an output file`, 'add -o <model.tflite>');
    const int8 = v.float !== true;
    const inputText = str(v.input);
    const graph = await buildZooModel(entry.name, {
      input: inputText === undefined ? undefined : parseInputSize(inputText),
      classes: optionValue(v, 'classes'),
      seed: optionValue(v, 'seed'),
      width: optionValue(v, 'width'),
      int8,
    });
    const bytes = writeTflite(graph);
    const stats = modelStats(graph);
    const input = graph.tensors[graph.inputs[0]];
    const output = graph.tensors[graph.outputs[0]];
    const lines = [
      `wrote ${out}: ${graph.name}, ${int8 ? 'int8' : 'float32'}, ${bytes.length.toLocaleString('en-US')} bytes`,
      `  input ${input.dtype}[${input.shape.join(',')}], output ${output.dtype}[${output.shape.join(',')}], ${graph.operators.length} operators`,
      `  MACs ${stats.macs.toLocaleString('en-US')}, parameters ${stats.params.toLocaleString('en-US')}`,
    ];
    if (int8) {
      const analysis = analyzeModel(bytes, out);
      lines.push(`  inference SRAM arena ${formatBytes(analysis.plan.arenaBytes)}, Flash constants ${formatBytes(flashConstBytes(analysis.graph, analysis.calls))}`);
    }
    writeFileAtomic(out, bytes);
    console.log(lines.join('\n'));
    printResult(v, { out, name: graph.name, dtype: int8 ? 'int8' : 'float32', bytes: bytes.length, input: input.shape, output: output.shape, operators: graph.operators.length, macs: stats.macs, params: stats.params });
    return 0;
  },
};

/** The commands this file adds, keyed as in COMMANDS. */

