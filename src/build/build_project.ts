/** Build a generated project with its Makefile: the host C compiler, or arm-none-eabi-gcc for boards. */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { memoryUsage, readElfSections, regionBytes, type MemoryUsage } from '../elf/elf.ts';
import { McutrainError } from '../errors.ts';
import { MANIFEST_FILE, readManifest, type ProjectManifest } from '../project/manifest.ts';
import { loadTarget, mcuOf, type Target } from '../targets/target.ts';
import { writeFileAtomic } from '../util/fs_atomic.ts';

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
  const target = loadTarget(manifest.target, dir);
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
  const artifact = path.join(dir, imageFile(target.kind, opts.sanitize));
  // make would take an image changed by hand for up to date: link it again, so the hash recorded is of what make made.
  rmSync(artifact, { force: true });
  const finish = (log: string, status: number | null, error?: Error): BuildResult => {
    if (error) throw new McutrainError(`could not run make: ${error.message}`, 'check that make is installed');
    if (status !== 0) throw explainBuildFailure(dir, log, manifest.arenaBytes, target.sram?.bytes, target.flash?.bytes);
    recordImage(dir, artifact);
    if (target.kind === 'host') return { artifact, log };
    return { artifact, log, memory: imageMemory(artifact, target) };
  };
  return { args, finish };
}

/** Flash and SRAM a board's linked image takes, with the board's capacities. */
export function imageMemory(image: string, target: Target): NonNullable<BuildResult['memory']> {
  const usage = memoryUsage(readElfSections(new Uint8Array(readFileSync(image)), image));
  return { ...usage, flashCapacity: target.flash!.bytes, ramCapacity: target.sram!.bytes };
}

/** The SRAM a board's linked image takes in the target's SRAM region (.data, .bss, the stack there), from its ELF. */
export function linkedSramBytes(image: string, target: Target): number {
  const { sram } = mcuOf(target);
  return regionBytes(readElfSections(new Uint8Array(readFileSync(image)), image), Number(sram.origin), sram.bytes);
}

/** The image a build makes: the host engine (plain or sanitized), or a board's firmware.elf. */
export function imageFile(kind: string, sanitized = false): string {
  return kind === 'host' ? (sanitized ? 'engine-sanitized' : 'engine') : 'firmware.elf';
}

export function fileSha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Notes the SHA-256 of the image just made in mcutrain.json, so flash and the device commands can recognise it. */
function recordImage(dir: string, artifact: string): void {
  const manifest = readManifest(dir);
  manifest.images = { ...manifest.images, [path.basename(artifact)]: fileSha256(artifact) };
  writeFileAtomic(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
}

/**
 * The SHA-256 `mcutrain build` recorded for `file`. Read from the project's mcutrain.json on disk: the
 * build writes it there, so a manifest a caller kept from before the build (e.g. compileModel's) lacks it or holds an older one.
 */
export function recordedImage(dir: string, manifest: ProjectManifest, file: string): string | undefined {
  return readManifest(dir).images?.[file] ?? manifest.images?.[file];
}

/**
 * Checks that `file` in the project is the image `mcutrain build` made for it (not changed by hand,
 * nor copied from another project) and returns its SHA-256. `required`: refuse an image that was
 * built without a record (by an older mcutrain, or by make alone) too.
 */
export function checkBuiltImage(dir: string, manifest: ProjectManifest, file: string, required = true): string {
  const image = path.join(dir, file);
  const rebuild = `run mcutrain build ${dir}${file === 'engine-sanitized' ? ' --sanitize' : ''}`;
  if (!existsSync(image)) throw new McutrainError(`'${dir}' has not been built (no ${file})`, rebuild);
  const sha = fileSha256(image);
  const recorded = recordedImage(dir, manifest, file);
  if (recorded === undefined) {
    if (!required) return sha;
    throw new McutrainError(`'${dir}' has no record of the ${file} \`mcutrain build\` made for it (built by an older mcutrain, or by make alone)`, rebuild);
  }
  if (sha !== recorded) {
    throw new McutrainError(`${file} does not match the image \`mcutrain build\` made for this project ('${dir}': SHA-256 ${sha.slice(0, 16)}, built ${recorded.slice(0, 16)})`, rebuild);
  }
  return sha;
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
