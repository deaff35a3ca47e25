/**
 * The emulated twin of a board project: one detached QEMU per project that behaves like the board.
 * It keeps its state (trained parameters, hyperparameters) between commands until `mcutrain reset`
 * starts its image afresh or `mcutrain stop` ends it. `mcutrain flash` loads an image into it;
 * infer, profile, train and weights connect to its UART and leave it running.
 *
 * Its files live in a private runtime folder, not in the project (unix socket paths must be short,
 * and `mcutrain compile` replaces the project folder): <runtime>/twin-<hash of the project path>/
 *   state.json    QEMU's pid, the board, the running image's SHA-256, when it started
 *   firmware.elf  the flashed image, the board's Flash: a rebuild does not change it, a reset starts it again
 *   uart0.sock    the board's UART0 (one command at a time: `lock` names the one connected)
 *   gdb.sock      QEMU's gdbstub (flash reads the image back through it; a debugger may attach)
 *   qemu.log      QEMU's output: its messages, semihosting output, the firmware's fault reports
 * A twin whose QEMU has died is noticed (its pid is gone, or is no longer this QEMU) and cleaned up.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { McutrainError } from '../errors.ts';
import { writeFileAtomic } from '../util/fs_atomic.ts';
import { processAlive } from '../util/process_alive.ts';
import { connectWhenListening, describeQemuExit, qemuArgs, QEMU_BINARY, socketDirRoot, tail, type QemuBoard, type QemuConnection, type QemuExit } from './qemu.ts';
import { QemuTransport } from './qemu_transport.ts';

const INSTALL_HINT = 'install QEMU (Debian/Ubuntu: apt-get install qemu-system-arm; macOS: brew install qemu), or set MCUTRAIN_QEMU to its path';
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5000;
const LOG_KEEP = 16384;

export interface TwinState {
  /** The project folder, absolute. */
  project: string;
  pid: number;
  machine: string;
  /** SHA-256 of the image it runs (its firmware.elf), as build records it in mcutrain.json. */
  imageSha256: string;
  startedAt: string;
}

/** A twin's files. */
export interface TwinFiles {
  dir: string;
  state: string;
  image: string;
  uart: string;
  gdb: string;
  log: string;
  lock: string;
}

/**
 * Where twins live: $MCUTRAIN_RUNTIME_DIR, else mcutrain-<uid> in the temp folder; a folder only
 * this user can enter, since its sockets control the board.
 */
export function runtimeRoot(): string {
  const root = process.env.MCUTRAIN_RUNTIME_DIR ?? path.join(socketDirRoot(), `mcutrain-${process.getuid?.() ?? 'user'}`);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const info = lstatSync(root);
  if (!info.isDirectory() || (process.getuid && info.uid !== process.getuid()) || (info.mode & 0o077) !== 0) {
    throw new McutrainError(`${root} is not a private folder of this user (it holds the emulated boards' sockets)`,
      'remove it, or set MCUTRAIN_RUNTIME_DIR to a folder only you can enter');
  }
  return root;
}

/** The twin's files of the project in `projectDir` (which need not exist any more). */
export function twinFiles(projectDir: string): TwinFiles {
  const resolved = path.resolve(projectDir);
  const project = existsSync(resolved) ? realpathSync(resolved) : resolved;
  const dir = path.join(runtimeRoot(), `twin-${createHash('sha256').update(project).digest('hex').slice(0, 16)}`);
  const at = (name: string) => path.join(dir, name);
  return { dir, state: at('state.json'), image: at('firmware.elf'), uart: at('uart0.sock'), gdb: at('gdb.sock'), log: at('qemu.log'), lock: at('lock') };
}

function readState(files: TwinFiles): TwinState | undefined {
  try {
    return JSON.parse(readFileSync(files.state, 'utf8')) as TwinState;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is this twin's QEMU: alive (not a zombie) and, where /proc tells, running with the
 * twin's folder on its command line (so a pid reused by another program is not taken for it).
 */
function isTwinProcess(pid: number, files: TwinFiles): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (!existsSync('/proc/self/cmdline')) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(files.dir);
  } catch {
    return false;
  }
}

/** A twin's files but its flashed image (a reset starts that again). */
function removeRunFiles(files: TwinFiles): void {
  for (const f of [files.state, files.uart, files.gdb, files.log, files.lock]) rmSync(f, { force: true });
}

function logTail(files: TwinFiles): string {
  try {
    return readFileSync(files.log, 'utf8').slice(-LOG_KEEP);
  } catch {
    return '';
  }
}

export interface TwinStatus {
  files: TwinFiles;
  /** The running twin; undefined when none runs. */
  running?: TwinState;
  /** A twin that had been started and is gone (QEMU ended): why, from its output. Its files are removed. */
  died?: string;
  /** An image was flashed into this twin (it can be reset). */
  flashed: boolean;
}

/** The project's twin, if one runs; a dead one's runtime files are cleaned up (its flashed image kept). */
export function twinStatus(projectDir: string): TwinStatus {
  const files = twinFiles(projectDir);
  const state = readState(files);
  if (state && isTwinProcess(state.pid, files)) return { files, running: state, flashed: existsSync(files.image) };
  let died: string | undefined;
  if (state) {
    died = `QEMU (pid ${state.pid}) has ended${tail(logTail(files)) || ', without a message'}`;
    removeRunFiles(files);
  }
  return { files, died, flashed: existsSync(files.image) };
}

/** Ends QEMU: SIGTERM, then SIGKILL if it is still there after a grace period. */
async function endProcess(pid: number, files: TwinFiles): Promise<void> {
  const gone = async (ms: number) => {
    for (const until = Date.now() + ms; Date.now() < until;) {
      if (!isTwinProcess(pid, files)) return true;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return !isTwinProcess(pid, files);
  };
  if (!isTwinProcess(pid, files)) return;
  process.kill(pid, 'SIGTERM');
  if (await gone(STOP_GRACE_MS)) return;
  process.kill(pid, 'SIGKILL');
  if (!(await gone(STOP_GRACE_MS))) throw new McutrainError(`QEMU (pid ${pid}) did not end after SIGKILL`, `end it by hand: kill -9 ${pid}`);
}

/**
 * Stops the project's twin. `keepImage`: keep the flashed image (a reset starts it again); otherwise
 * everything goes. Returns the stopped twin, if one ran.
 */
export async function stopTwin(projectDir: string, keepImage = false): Promise<TwinState | undefined> {
  const status = twinStatus(projectDir);
  const { files, running } = status;
  if (running) await endProcess(running.pid, files);
  if (keepImage) {
    removeRunFiles(files);
  } else {
    rmSync(files.dir, { recursive: true, force: true });
  }
  return running;
}

export interface StartTwinOptions {
  /** The image to flash into the twin (copied into it); without it, the twin's flashed image starts again. */
  image?: string;
  /** Start with the core halted and the gdbstub ready (flash verifies the image, then resumes it). */
  halted?: boolean;
  /** qemu-system-arm executable; default $MCUTRAIN_QEMU or `qemu-system-arm`. */
  binary?: string;
}

/**
 * Starts the project's twin on its flashed image (after copying `opts.image` in, if given), detached
 * from this process; any twin already running is stopped first. Resolves once QEMU listens on the
 * UART (and the gdbstub), with its state recorded.
 */
export async function startTwin(projectDir: string, board: QemuBoard, opts: StartTwinOptions = {}): Promise<TwinState> {
  await stopTwin(projectDir, opts.image === undefined);
  const files = twinFiles(projectDir);
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  if (opts.image !== undefined) {
    const tmp = `${files.image}.tmp`;
    copyFileSync(opts.image, tmp);
    renameSync(tmp, files.image);
  }
  if (!existsSync(files.image)) {
    throw new McutrainError(`no image was flashed into the emulated ${board.machine} board of '${projectDir}'`, `flash it: mcutrain flash ${projectDir}`);
  }
  const binary = opts.binary ?? process.env.MCUTRAIN_QEMU ?? QEMU_BINARY;
  const args = qemuArgs(board, files.image, files.uart, { waitForUart: false, gdbSocket: files.gdb, halted: opts.halted });
  const log = openSync(files.log, 'w');
  let exit: QemuExit | undefined;
  let spawnError: NodeJS.ErrnoException | undefined;
  let pid: number | undefined;
  try {
    const child = spawn(binary, args, { detached: true, stdio: ['ignore', log, log] });
    child.on('exit', (code, signal) => { exit = { code, signal }; });
    await new Promise<void>((resolve) => {
      child.once('spawn', () => resolve());
      child.once('error', (error: NodeJS.ErrnoException) => { spawnError = error; resolve(); });
    });
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(log);
  }
  if (spawnError || pid === undefined) {
    rmSync(files.log, { force: true });
    throw spawnError?.code === 'ENOENT'
      ? new McutrainError(`${binary} is not installed: it emulates the ${board.machine} board`, INSTALL_HINT)
      : new McutrainError(`${binary} could not be started: ${spawnError?.message ?? 'no process id'}`, INSTALL_HINT);
  }
  for (const deadline = Date.now() + START_TIMEOUT_MS; !(existsSync(files.uart) && existsSync(files.gdb));) {
    if (exit || Date.now() > deadline) {
      const why = exit ? `exited with ${describeQemuExit(exit)}` : `did not open the board's UART within ${START_TIMEOUT_MS / 1000} s`;
      const output = tail(logTail(files));
      if (!exit) await endProcess(pid, files).catch(() => undefined);
      rmSync(files.log, { force: true });
      throw new McutrainError(`${binary} (${board.machine}) ${why} before the board started${output}`,
        'check the QEMU version (7.2 or later models this board) and that the firmware was built for this target');
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const imageSha256 = createHash('sha256').update(readFileSync(files.image)).digest('hex');
  const state: TwinState = { project: path.resolve(projectDir), pid, machine: board.machine, imageSha256, startedAt: new Date().toISOString() };
  writeFileAtomic(files.state, JSON.stringify(state, null, 2) + '\n');
  return state;
}

/** The twin as a link transport: closing it disconnects, and the twin runs on. */
export type TwinTransport = QemuTransport<QemuConnection>;

/**
 * Connects to the running twin's UART. One command at a time: a second one is refused while the
 * first is connected (QEMU would hold it back unanswered).
 */
export async function connectTwin(projectDir: string, state: TwinState): Promise<TwinTransport> {
  const files = twinFiles(projectDir);
  takeLock(files, projectDir);
  try {
    const gone = () => !isTwinProcess(state.pid, files);
    let check: ReturnType<typeof setInterval> | undefined;
    const ended = new Promise<never>((_, reject) => {
      check = setInterval(() => {
        if (gone()) reject(new McutrainError(`the emulated ${state.machine} board of '${projectDir}' ended (QEMU pid ${state.pid})${tail(logTail(files))}`,
          `start it again: mcutrain reset ${projectDir}`));
      }, 100);
    });
    const socket = await Promise.race([connectWhenListening(files.uart, gone, START_TIMEOUT_MS), ended]).catch((error: Error) => {
      throw error instanceof McutrainError ? error : new McutrainError(`cannot connect to the emulated board of '${projectDir}': ${error.message}`,
        `start it again: mcutrain reset ${projectDir}`);
    }).finally(() => clearInterval(check));
    socket.on('error', () => undefined); // a reset connection shows up as 'close', and the twin's state says why
    const connection: QemuConnection = {
      stream: socket,
      get output() { return logTail(files); },
      exitWithin: async (ms) => {
        for (const until = Date.now() + ms; Date.now() < until; await new Promise((resolve) => setTimeout(resolve, 25))) {
          if (gone()) return { code: null, signal: null };
        }
        return gone() ? { code: null, signal: null } : undefined;
      },
    };
    return new QemuTransport(connection, `emulated ${state.machine} board (QEMU pid ${state.pid})`, async () => {
      socket.destroy();
      releaseLock(files);
    });
  } catch (error) {
    releaseLock(files);
    throw error;
  }
}

/**
 * Runs `fn` (look for the project's twin, start one if none runs) while holding the project's start
 * lock, so that two commands that find no twin running do not both start one (the second would stop
 * the first's). The lock sits beside the twin's folder, which starting a twin replaces; a holder that
 * has ended is taken over, and a holder that keeps it past the start timeout is named.
 */
export async function withStartLock<T>(projectDir: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${twinFiles(projectDir).dir}.starting`;
  for (const until = Date.now() + 2 * START_TIMEOUT_MS; ;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSync(lock, 'utf8'));
    if (!(holder > 0) || !processAlive(holder)) {
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > until) {
      throw new McutrainError(`another mcutrain command (pid ${holder}) has been starting the emulated board of '${projectDir}' for over ${2 * START_TIMEOUT_MS / 1000} s`,
        `wait for it, or end it and remove ${lock}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50)); // another process's start: nothing to wait on but the file
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** The lock file names the process connected to the UART; one whose process has ended is taken over. */
function takeLock(files: TwinFiles, projectDir: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(files.lock, String(process.pid), { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSync(files.lock, 'utf8'));
    if (holder === process.pid || (holder > 0 && processAlive(holder))) {
      throw new McutrainError(`the emulated board of '${projectDir}' is in use by another mcutrain command (pid ${holder})`,
        'wait for it to finish; a board talks to one program at a time');
    }
    rmSync(files.lock, { force: true });
  }
  throw new McutrainError(`cannot lock the emulated board of '${projectDir}' (${files.lock})`, 'try again');
}

function releaseLock(files: TwinFiles): void {
  try {
    if (Number(readFileSync(files.lock, 'utf8')) === process.pid) rmSync(files.lock, { force: true });
  } catch {
    // already gone
  }
}
