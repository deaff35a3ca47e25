/** `mcutrain flash`: write a built firmware to its board (or its emulated twin) and verify it. */
import path from 'node:path';
import { printResult } from './json_output.ts';
import { McutrainError } from '../errors.ts';
import { readManifest } from '../project/manifest.ts';
import { loadTarget, mcuOf } from '../targets/target.ts';
import { loadFirmwareImage } from '../flash/image.ts';
import type { Flasher, FlashReport } from '../flash/flasher.ts';
import { gdbOverSerial, gdbOverTcp } from '../flash/gdb_flash.ts';
import { stm32OverSerial } from '../flash/stm32_uart_bootloader.ts';
import { MassStorageFlasher } from '../flash/mass_storage.ts';
import { TwinFlasher } from '../flash/qemu_flash.ts';
import { checkBuiltImage } from '../build/build_project.ts';
import { formatBytes } from '../util/table.ts';
import { progress } from './progress.ts';
import type { Command } from './commands.ts';
import { str } from './options.ts';
import { oneOf } from '../util/option_values.ts';

const METHODS = ['qemu', 'gdb', 'stm32-uart', 'msd', 'uf2'] as const;
type Method = (typeof METHODS)[number];

interface FlashChoice {
  method?: string;
  gdb?: string;
  port?: string;
  drive?: string;
}

/** Picks the flashing method from the options, or the target's only sensible default. */
export function chooseMethod(o: FlashChoice, flashMethods: readonly string[], emulated: boolean): Method {
  const method = o.method ?? (o.gdb ? 'gdb' : o.drive ? (flashMethods.includes('uf2') ? 'uf2' : 'msd') : emulated && !o.port ? 'qemu' : undefined);
  if (!method) {
    throw new McutrainError('say how to flash this board', `use --gdb host:port (OpenOCD, pyOCD, J-Link), --method gdb --port <Black Magic Probe>, --method stm32-uart --port <tty>, or --drive <mounted board drive>; this board supports: ${flashMethods.join(', ')}`);
  }
  // Not in OPTION_VALUES: quantize's --method takes other values; checked by the same reader.
  const known = oneOf(method, METHODS, '--method');
  if (!flashMethods.includes(known)) throw new McutrainError(`this board cannot be flashed with '${known}'`, `it supports: ${flashMethods.join(', ')}`);
  return known;
}

/** `dir`: the project, whose emulated twin the qemu method flashes. */
function makeFlasher(method: Method, o: FlashChoice, target: ReturnType<typeof mcuOf>, dir: string): Flasher {
  const need = (value: string | undefined, flag: string) => {
    if (!value) throw new McutrainError(`flashing with ${method} needs ${flag}`);
    return value;
  };
  switch (method) {
    case 'qemu': return new TwinFlasher(dir, target);
    case 'gdb': return o.gdb ? gdbOverTcp(o.gdb) : gdbOverSerial(need(o.port, '--gdb host:port or --port <probe tty>'), { blackMagicProbe: true });
    case 'stm32-uart': return stm32OverSerial(need(o.port, '--port <tty wired to the bootloader USART>'));
    case 'msd':
    case 'uf2': return new MassStorageFlasher({ drive: need(o.drive, '--drive <mounted board drive>'), format: method === 'uf2' ? 'uf2' : 'auto', flashOrigin: Number(target.flash.origin) });
  }
}

export async function flashProject(dir: string, o: FlashChoice): Promise<FlashReport> {
  const manifest = readManifest(dir);
  const target = mcuOf(loadTarget(manifest.target, dir));
  const method = chooseMethod(o, target.flashMethods ?? [], target.qemu !== undefined);
  // The board is checked against the ELF by read-back; the ELF against the project here.
  checkBuiltImage(dir, manifest, 'firmware.elf');
  const image = loadFirmwareImage(path.join(dir, 'firmware.elf'));
  const flasher = makeFlasher(method, o, target, dir);
  const bar = progress(`flashing (${method})`);
  try {
    return await flasher.flash(image, (p) => bar.update(p.done, p.total, p.phase));
  } finally {
    bar.done();
  }
}

export const flashCommand: Command = {
  usage: 'flash <dir> [--gdb host:port | --method M --port P | --drive D]',
  summary: 'write the firmware to the board and verify it by read-back',
  help: [
    'Options:',
    `  --method M         ${METHODS.join(', ')} (default: qemu for an emulated board; else from the options below)`,
    '  --gdb HOST:PORT    a GDB server: OpenOCD (3333), pyOCD, J-Link GDB server, QEMU\'s gdbstub',
    '  -p, --port PATH    the serial port of a Black Magic Probe (--method gdb) or of the STM32 ROM bootloader (--method stm32-uart)',
    '  --drive PATH       a mounted DAPLink / ST-LINK drive (msd) or RP2040 RPI-RP2 drive (uf2)',
    'The firmware.elf must be the image mcutrain build made for the project (its SHA-256 is in mcutrain.json);',
    'every flash is verified (read-back or device CRC) before it is reported as done. The emulated board',
    'runs on after the command, keeping its state like a board, until mcutrain reset or mcutrain stop.',
  ].join('\n'),
  options: { method: { type: 'string' }, gdb: { type: 'string' }, port: { type: 'string', short: 'p' }, drive: { type: 'string' } },
  // a probe's or bootloader's port, not the board's link port MCUTRAIN_PORT names; the config file's "method" is quantize's
  flagOnly: ['port', 'method'],
  async run(pos, v) {
    if (pos.length !== 1) throw new McutrainError('flash takes one project folder', `usage: mcutrain ${this.usage}`);
    const report = await flashProject(pos[0], { method: str(v.method), gdb: str(v.gdb), port: str(v.port), drive: str(v.drive) });
    console.log(`flashed ${formatBytes(report.bytesWritten)} in ${report.segments} segment(s) to ${report.device} with ${report.method} in ${report.elapsedMs} ms`);
    console.log(`  verified: ${report.verification.detail} (CRC-32 ${report.verification.crc32.toString(16).padStart(8, '0')})`);
    for (const note of report.notes) console.log(`  ${note}`);
    printResult(v, report);
    return 0;
  },
};
