/**
 * Emulated boards: runs firmware.elf under qemu-system-arm and hands back the board's UART0 as a
 * byte stream. The UART is a QEMU chardev on a unix socket that QEMU listens on and waits for
 * (`server=on,wait=on`), so the guest starts only once we are connected and no early byte is lost;
 * node:net connects to it without native modules (a pty would need one to set raw mode).
 *
 * QEMU runs with `-icount shift=N`: virtual time advances 2^N ns per instruction, which makes the
 * firmware's SysTick tick counts (reported in "instructions") independent of the host's speed, and
 * with semihosting, so the firmware can end the emulation with an exit code (mt_platform_exit).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { McutrainError } from '../errors.ts';

export const QEMU_BINARY = 'qemu-system-arm';
const INSTALL_HINT = 'install QEMU (Debian/Ubuntu: apt-get install qemu-system-arm; macOS: brew install qemu), or set MCUTRAIN_QEMU to its path';
const OUTPUT_KEEP = 16384;

/** How to emulate one board: the `qemu` part of a target file. */
export interface QemuBoard {
  /** QEMU machine, e.g. `mps2-an500`. */
  machine: string;
  /** `-icount shift=N`: each instruction takes 2^N ns of virtual time. */
  icountShift: number;
  /** More QEMU arguments, placed before `-kernel`. */
  extraArgs: string[];
}

export interface QemuOptions extends QemuBoard {
  /** The firmware image (an ELF: QEMU loads it at its link addresses). */
  kernel: string;
  /** qemu-system-arm executable; default $MCUTRAIN_QEMU or `qemu-system-arm` on the PATH. */
  binary?: string;
  /** How long QEMU may take to start listening on the UART socket. Default 10 s. */
  startTimeoutMs?: number;
  /**
   * Open QEMU's gdbstub on 127.0.0.1:`gdbPort` (`-gdb tcp:...`), e.g. to verify the loaded image by
   * reading it back (src/flash/qemu_flash.ts) or to debug the firmware.
   */
  gdbPort?: number;
  /** Start with the core halted (`-S`) until a debugger resumes it. Default false. */
  halted?: boolean;
}

export interface QemuExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A connection to an emulated board's UART0, and what tells why it ended. */
export interface QemuConnection {
  /** The board's UART0: what the firmware sends arrives here, and what is written here it receives. */
  readonly stream: Duplex;
  /** QEMU's stdout and stderr so far (the last 16 KiB): its own messages and semihosting output. */
  readonly output: string;
  /** How QEMU ended, if it ends within `ms` (undefined if it still runs then). */
  exitWithin(ms: number): Promise<QemuExit | undefined>;
}

export interface QemuSession extends QemuConnection {
  readonly process: ChildProcess;
  /** Resolves when QEMU has exited: a semihosting exit (mt_platform_exit), a crash, or stop(). */
  readonly exited: Promise<QemuExit>;
  /** Disconnects and ends QEMU (SIGTERM, then SIGKILL after 5 s); resolves with how it ended. */
  stop(): Promise<QemuExit>;
}

/** Reads and checks the `qemu` part of a target file. */
export function qemuBoardOf(target: { name: string; qemu?: unknown }): QemuBoard {
  const where = `targets/${target.name}.json`;
  const q = target.qemu as Partial<QemuBoard> | undefined;
  if (!q || typeof q !== 'object') {
    throw new McutrainError(`target '${target.name}' cannot be emulated: ${where} has no 'qemu' section`, 'choose an emulated board, e.g. --target mps2-an500');
  }
  if (typeof q.machine !== 'string' || !q.machine) throw new Error(`${where}: qemu.machine missing or not a string`);
  if (!Number.isInteger(q.icountShift) || q.icountShift! < 0 || q.icountShift! > 10) throw new Error(`${where}: qemu.icountShift must be an integer 0..10`);
  const extra = q.extraArgs ?? [];
  if (!Array.isArray(extra) || !extra.every((a) => typeof a === 'string')) throw new Error(`${where}: qemu.extraArgs must be a list of strings`);
  return { machine: q.machine, icountShift: q.icountShift!, extraArgs: extra };
}

/** Debugger and UART options for the command line (see QemuOptions). */
export interface QemuDebug {
  gdbPort?: number;
  /** The gdbstub on this unix socket instead of a TCP port (only its owner can reach it). */
  gdbSocket?: string;
  halted?: boolean;
  /**
   * The guest starts only once a client is connected to the UART (default). Off for a board that
   * runs on its own between connections (src/emulate/twin.ts); what it sends while nobody listens is lost.
   */
  waitForUart?: boolean;
}

/** QEMU option syntax doubles commas. */
const optionPath = (p: string) => p.replace(/,/g, ',,');

/** The qemu-system-arm command line for a board, with its UART0 on the unix socket `socketPath`. */
export function qemuArgs(board: QemuBoard, kernel: string, socketPath: string, debug: QemuDebug = {}): string[] {
  return [
    '-machine', board.machine,
    '-nodefaults', '-display', 'none', '-monitor', 'none',
    '-chardev', `socket,id=uart0,path=${optionPath(socketPath)},server=on,wait=${debug.waitForUart === false ? 'off' : 'on'}`,
    '-serial', 'chardev:uart0',
    '-semihosting-config', 'enable=on,target=native',
    '-icount', `shift=${board.icountShift}`,
    ...(debug.gdbPort !== undefined ? ['-gdb', `tcp:127.0.0.1:${debug.gdbPort}`] : []),
    ...(debug.gdbSocket !== undefined ? ['-gdb', `unix:path=${optionPath(debug.gdbSocket)},server=on,wait=off`] : []),
    ...(debug.halted ? ['-S'] : []),
    ...board.extraArgs,
    '-kernel', kernel,
  ];
}

/** Starts QEMU on the firmware and connects to the board's UART0; the guest runs from then on. */
export async function startQemu(opts: QemuOptions): Promise<QemuSession> {
  const binary = opts.binary ?? process.env.MCUTRAIN_QEMU ?? QEMU_BINARY;
  if (!existsSync(opts.kernel) || !statSync(opts.kernel).isFile()) {
    throw new McutrainError(`firmware image '${opts.kernel}' does not exist`, 'build the project first (mcutrain build)');
  }
  const dir = mkdtempSync(path.join(socketDirRoot(), 'mcutrain-qemu-'));
  const socketPath = path.join(dir, 'uart0.sock');
  const args = qemuArgs(opts, path.resolve(opts.kernel), socketPath, opts);
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });

  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEEP);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exitInfo: QemuExit | undefined;
  const exited = new Promise<QemuExit>((resolve) => {
    child.on('close', (code, signal) => {
      exitInfo = { code, signal };
      rmSync(dir, { recursive: true, force: true });
      resolve(exitInfo);
    });
  });
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      rmSync(dir, { recursive: true, force: true });
      reject(error.code === 'ENOENT'
        ? new McutrainError(`${binary} is not installed: it emulates the ${opts.machine} board`, INSTALL_HINT)
        : new McutrainError(`${binary} could not be started: ${error.message}`, INSTALL_HINT));
    });
  });
  spawnError.catch(() => undefined);

  let socket: net.Socket;
  try {
    socket = await Promise.race([
      connectWhenListening(socketPath, () => exitInfo !== undefined, opts.startTimeoutMs ?? 10_000),
      spawnError,
      exited.then((exit): never => {
        throw new McutrainError(
          `${binary} (${opts.machine}) exited with ${describeQemuExit(exit)} before the board started${tail(output)}`,
          'check the QEMU version (7.2 or later models this board) and that the firmware was built for this target');
      }),
    ]);
  } catch (error) {
    if (exitInfo === undefined) child.kill('SIGKILL');
    await Promise.race([exited, spawnError]).catch(() => undefined);
    if (error instanceof McutrainError) throw error;
    throw new McutrainError(`${binary} (${opts.machine}) did not open the board's UART: ${(error as Error).message}${tail(output)}`, INSTALL_HINT);
  }

  socket.on('error', () => undefined); // a reset connection shows up as 'close', and QEMU's exit says why

  const stop = async (): Promise<QemuExit> => {
    socket.destroy();
    if (exitInfo) return exitInfo;
    child.kill('SIGTERM');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), 5000); });
    const first = await Promise.race([exited, late]);
    clearTimeout(timer);
    if (first === 'late') {
      child.kill('SIGKILL');
      return exited;
    }
    return first;
  };

  return {
    stream: socket,
    process: child,
    exited,
    get output() { return output; },
    exitWithin: (ms) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<undefined>((resolve) => { timer = setTimeout(resolve, ms, undefined); });
      return Promise.race([exited, late]).finally(() => clearTimeout(timer));
    },
    stop,
  };
}

export function describeQemuExit(exit: QemuExit): string {
  return exit.signal ? `signal ${exit.signal}` : exit.code !== null ? `exit code ${exit.code}` : 'exit status unknown';
}

export function tail(output: string): string {
  const text = output.trim();
  return text ? `; its output:\n${text}` : '';
}

/** Unix socket paths are limited to ~100 bytes; a long $TMPDIR falls back to /tmp. */
export function socketDirRoot(): string {
  const dir = tmpdir();
  return dir.length <= 60 ? dir : '/tmp';
}

/** Connects to QEMU's unix socket once it listens; never settles if `gone()` turns true first (the caller reports the exit). */
export async function connectWhenListening(socketPath: string, gone: () => boolean, timeoutMs: number): Promise<net.Socket> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'the socket never appeared';
  while (Date.now() < deadline) {
    if (gone()) break;
    if (existsSync(socketPath)) {
      try {
        return await new Promise<net.Socket>((resolve, reject) => {
          const s = net.createConnection(socketPath);
          s.once('connect', () => {
            s.removeAllListeners('error');
            resolve(s);
          });
          s.once('error', (e) => {
            s.destroy();
            reject(e);
          });
        });
      } catch (error) {
        lastError = (error as Error).message;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (gone()) return new Promise<never>(() => undefined); // the exit handler reports it
  throw new Error(`no connection within ${timeoutMs} ms (${lastError})`);
}
