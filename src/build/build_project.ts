/** Build a generated project with its Makefile: the host C compiler, or arm-none-eabi-gcc for boards. */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { memoryUsage, readElfSections, type MemoryUsage } from '../elf/elf.ts';
import { McutrainError } from '../errors.ts';
import { readManifest } from '../project/manifest.ts';
import { loadTarget } from '../targets/target.ts';

export interface BuildOptions {
  /** Add AddressSanitizer and UndefinedBehaviorSanitizer (host builds). */
  sanitize?: boolean;
  /** Boards: build the portable C kernels even where the core has the DSP extension (for comparison). */
  portable?: boolean;
}

export interface BuildResult {
  /** The program (host) or firmware.elf (boards) that was produced. */
  artifact: string;
  log: string;
  /** Boards: Flash and SRAM taken by the image, from the ELF's sections. */
  memory?: MemoryUsage & { flashCapacity: number; ramCapacity: number };
}

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$0"', cmd], { stdio: 'ignore' }).status === 0;
}

export function buildProject(dir: string, opts: BuildOptions = {}): BuildResult {
  const { args, finish } = prepareBuild(dir, opts);
  const r = spawnSync('make', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return finish(`${r.stdout ?? ''}${r.stderr ?? ''}`, r.status, r.error);
}

/** buildProject without blocking the event loop (so several builds and engines can run at once). */
export function buildProjectAsync(dir: string, opts: BuildOptions = {}): Promise<BuildResult> {
  const { args, finish } = prepareBuild(dir, opts);
  return new Promise((resolve, reject) => {
    let log = '';
    const child = spawn('make', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => { log += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { log += d.toString(); });
    child.on('error', (e) => reject(new McutrainError(`could not run make: ${e.message}`, 'check that make is installed')));
    child.on('close', (status) => {
      try {
        resolve(finish(log, status));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** The checks before a build and the make arguments; `finish` turns make's outcome into a result or an error. */
function prepareBuild(dir: string, opts: BuildOptions): { args: string[]; finish: (log: string, status: number | null, error?: Error) => BuildResult } {
  const manifest = readManifest(dir);
  const target = loadTarget(manifest.target);
  if (!hasCommand('make')) throw new McutrainError('`make` is not installed', 'install it (Debian: apt-get install make)');
  const compiler = target.kind === 'host' ? process.env.CC ?? target.cc : target.cc;
  if (!hasCommand(compiler)) {
    throw new McutrainError(`the C compiler for target ${target.name} (${compiler}) is not installed`,
      target.kind === 'host' ? 'install gcc (Debian: apt-get install gcc) or set CC'
        : 'install the Arm toolchain (Debian: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)');
  }
  if (opts.sanitize && target.kind !== 'host') {
    throw new McutrainError('--sanitize applies to host builds only', `compile with --target host to run under ASan/UBSan`);
  }
  const args = ['-C', dir, '--no-print-directory'];
  if (opts.sanitize) args.push('SANITIZE=1');
  if (opts.portable) args.push('DSP=0');
  const finish = (log: string, status: number | null, error?: Error): BuildResult => {
    if (error) throw new McutrainError(`could not run make: ${error.message}`, 'check that make is installed');
    if (status !== 0) throw explainBuildFailure(dir, log, manifest.arenaBytes, target.sram?.bytes, target.flash?.bytes);
    if (target.kind === 'host') return { artifact: path.join(dir, opts.sanitize ? 'engine-sanitized' : 'engine'), log };
    const elf = path.join(dir, 'firmware.elf');
    const usage = memoryUsage(readElfSections(new Uint8Array(readFileSync(elf)), elf));
    return { artifact: elf, log, memory: { ...usage, flashCapacity: target.flash!.bytes, ramCapacity: target.sram!.bytes } };
  };
  return { args, finish };
}

/** A model too big for the board is the usual cause of a failing link: say by how much and what to change. */
function explainBuildFailure(dir: string, log: string, arenaBytes: number, sram?: number, flash?: number): McutrainError {
  const overflows = [...log.matchAll(/region [`'](\w+)' overflowed by (\d+) bytes/g)].map((m) => ({ region: m[1], bytes: Number(m[2]) }));
  if (overflows.length > 0) {
    const parts = overflows.map((o) => {
      const total = o.region === 'RAM' ? sram : flash;
      const what = o.region === 'RAM' ? `SRAM (${total ?? '?'} B; the model's arena alone is ${arenaBytes} B)` : `Flash (${total ?? '?'} B)`;
      return `${what} by ${o.bytes} bytes`;
    });
    return new McutrainError(`the firmware in '${dir}' does not fit the board: it overflows ${parts.join(' and ')}`,
      'choose a board with more memory (mcutrain targets), or a smaller model (fewer channels, a smaller input, int8 instead of float)');
  }
  return new McutrainError(`building '${dir}' failed:\n${log.trim()}`,
    'this is a bug in mcutrain if the project was generated unchanged; please report it with the model');
}
