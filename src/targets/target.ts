/** Targets: one JSON file per board or host in targets/, validated on load. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { McutrainError } from '../errors.ts';
import { closest } from '../util/option_values.ts';

export const TARGETS_DIR = fileURLToPath(new URL('../../targets/', import.meta.url));
const PLATFORMS_DIR = fileURLToPath(new URL('../../firmware/platform/', import.meta.url));

/** The emulated board the toolchain uses when no target is named: everything runs with no board attached. */
export const DEFAULT_TARGET = 'mps2-an500';

export interface MemoryRegion {
  /** Start address, as a hex string ("0x20000000"). */
  origin: string;
  bytes: number;
}

export interface McuTarget {
  cpu: string;
  fpu: string;
  floatAbi: string;
  dsp: boolean;
  clockHz: number;
  flash: MemoryRegion;
  sram: MemoryRegion;
  stackBytes: number;
  uart: { peripheral: string; baseAddress?: string; irq?: number; baud: number };
  /** Present for boards QEMU emulates. */
  qemu?: { machine: string; icountShift: number; extraArgs: string[] };
  flashMethods: string[];
  source?: string;
}

export interface Target extends Partial<McuTarget> {
  name: string;
  description: string;
  /** `host`: a program for this computer; `mcu`: firmware for a board or its emulated twin. */
  kind: 'host' | 'mcu';
  /** Folder under firmware/platform/ with the startup code and drivers (and Makefile.<platform>.hbs). */
  platform: string;
  /** C compiler. */
  cc: string;
  /** Shared folders under firmware/platform/ the platform builds on (e.g. cortex_m, stm32). */
  platformParts?: string[];
  /** templates/Makefile.<makefile>.hbs, when not Makefile.<platform>.hbs. */
  makefile?: string;
}

export function listTargets(): string[] {
  return readdirSync(TARGETS_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

/** A target named by a board file (`./myboard.json`) rather than by name. */
export const isTargetFile = (ref: string): boolean => ref.endsWith('.json');

/** A project compiled for a board file keeps a copy of it here, so it builds and runs wherever it is moved. */
export const PROJECT_BOARD_FILE = 'board.json';

/**
 * The target `ref` names: one of targets/*.json, a user's board file (a path ending in .json, checked
 * the same way), or, given the project folder, the board file a project was compiled for.
 */
export function loadTarget(ref: string, projectDir?: string): Target {
  if (isTargetFile(ref)) {
    const board = readTargetFile(ref, ref);
    if (listTargets().includes(board.name) && path.resolve(ref) !== path.join(TARGETS_DIR, `${board.name}.json`)) {
      throw new McutrainError(`${ref}: name '${board.name}' is taken by a built-in target`, 'give the board its own name: a project records its target by name');
    }
    return board;
  }
  const known = listTargets();
  if (known.includes(ref)) return readTargetFile(path.join(TARGETS_DIR, `${ref}.json`), `targets/${ref}.json`);
  const copy = projectDir === undefined ? undefined : path.join(projectDir, PROJECT_BOARD_FILE);
  if (copy && existsSync(copy)) {
    const board = readTargetFile(copy, copy);
    if (board.name === ref) return board;
  }
  const near = closest(ref, known);
  throw new McutrainError(`unknown target '${ref}'`,
    `${near ? `did you mean '${near}'? ` : ''}choose one of: ${known.join(', ')} (mcutrain targets lists them), or give a board file: --target ./myboard.json`);
}

/** A target file, checked field by field; `where` names it in errors. */
function readTargetFile(file: string, where: string): Target {
  let raw: Partial<Target>;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as Partial<Target>;
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new McutrainError(missing ? `board file '${file}' does not exist` : `board file '${file}' is not valid JSON: ${(e as Error).message}`,
      `a board file is a JSON target like those in ${TARGETS_DIR}`);
  }
  const bad = (problem: string) => new McutrainError(`${where}: ${problem}`, `compare it with a target in ${TARGETS_DIR} (e.g. ${DEFAULT_TARGET}.json)`);
  if (typeof raw !== 'object' || raw === null) throw bad('not a JSON object');
  for (const key of ['name', 'description', 'kind', 'platform', 'cc'] as const) {
    if (typeof raw[key] !== 'string') throw bad(`field '${key}' missing or not a string`);
  }
  if (raw.kind !== 'mcu' && raw.kind !== 'host') throw bad(`field 'kind' must be 'mcu' or 'host', not '${raw.kind}'`);
  if (!existsSync(path.join(PLATFORMS_DIR, raw.platform!))) {
    throw bad(`platform '${raw.platform}' is not one of firmware/platform/ (${readdirSync(PLATFORMS_DIR).sort().join(', ')})`);
  }
  if (raw.kind === 'mcu') {
    for (const key of ['cpu', 'fpu', 'floatAbi'] as const) if (typeof raw[key] !== 'string') throw bad(`field '${key}' missing`);
    for (const key of ['flash', 'sram'] as const) {
      const r = raw[key];
      if (!r || typeof r.origin !== 'string' || !Number.isInteger(r.bytes)) throw bad(`field '${key}' needs origin (hex string) and bytes`);
    }
    if (!Number.isInteger(raw.clockHz) || !Number.isInteger(raw.stackBytes)) throw bad('clockHz and stackBytes must be integers');
  }
  return raw as Target;
}

/** The MCU part of a target, or a clear error for the host. */
export function mcuOf(target: Target): Target & McuTarget {
  if (target.kind !== 'mcu') throw new McutrainError(`target '${target.name}' is not a microcontroller`, 'choose a board target (mcutrain targets)');
  return target as Target & McuTarget;
}
