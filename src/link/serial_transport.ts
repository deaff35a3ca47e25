/**
 * A real serial port as a link transport (src/link/transport.ts): a board's UART through a debug
 * probe's virtual COM port, a USB CDC device, a USB-serial adapter, or any tty (a pty in the tests).
 * Opening fails with a McutrainError that says what to do (the port does not exist, permission,
 * another program has it); a port that goes away while in use (unplugged) ends the session with a
 * clear error; close() always releases the port.
 */
import { readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { SerialPort } from 'serialport';
import { McutrainError } from '../errors.ts';
import { listBoardPorts, usbIdOf, type BoardPort } from './ports.ts';
import { TransportEvents, type Transport } from './transport.ts';

export interface SerialOptions {
  /** Line speed; must match the firmware's UART (a USB CDC port ignores it). Default 115200. */
  baud?: number;
  /** Lists the ports for the error when the path does not exist; default listBoardPorts(). */
  listPorts?: () => Promise<BoardPort[]>;
}

/** A process that has a port open. */
export interface PortHolder {
  pid: number;
  command: string;
}

const DEFAULT_BAUD = 115200;

const CULPRITS = 'a serial monitor or terminal (Arduino IDE, PlatformIO device monitor, VS Code Serial Monitor, screen, '
  + 'minicom, picocom, PuTTY, CoolTerm), an IDE debug session using the probe, another mcutrain'
  + (process.platform === 'linux' ? ', or ModemManager probing a newly plugged port (wait a few seconds, or stop ModemManager)' : '');

export class SerialTransport implements Transport {
  readonly description: string;
  /** A UART moves 10 bits per byte (start, 8 data, stop). */
  readonly bytesPerSecond: number;
  private readonly events = new TransportEvents();
  private closing = false;
  private released: Promise<void> | undefined;
  private deathError: McutrainError | undefined;
  /** Fails each write serialport has not called back yet. A write issued while serialport closes the port
   * after a hangup waits for an 'open' that never comes, so the port's death or close settles it here. */
  private readonly unsettledWrites = new Set<(error: McutrainError) => void>();

  private constructor(private readonly port: SerialPort, readonly path: string, readonly baud: number, sharedWith: PortHolder[]) {
    const others = sharedWith.map(describeHolder).join(', ');
    this.description = `${path} at ${baud} baud${others ? ` (also open in ${others})` : ''}`;
    this.bytesPerSecond = baud / 10;
    port.on('data', (chunk: Buffer) => {
      const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      this.events.data(bytes);
    });
    // A read or write failure closes the port inside serialport (a disconnect); the first sign wins.
    port.on('error', (error: Error) => this.died(error));
    port.on('close', (error: Error | null | undefined) => this.died(error ?? undefined));
    port.on('end', () => this.died(undefined));
  }

  /**
   * Opens `path` (`/dev/ttyACM0`, `/dev/cu.usbmodem1103`, `COM3`) at `baud` with 8N1 and no flow
   * control, locked against other programs that lock ports, with stale received bytes discarded.
   */
  static async open(path: string, options: SerialOptions = {}): Promise<SerialTransport> {
    const baud = options.baud ?? DEFAULT_BAUD;
    if (!Number.isInteger(baud) || baud < 50 || baud > 20_000_000) {
      throw new McutrainError(`${baud} is not a baud rate`, 'use the rate the firmware\'s UART runs at, e.g. 115200');
    }
    if (!path) {
      throw new McutrainError('no serial port was given', await portListHint(options));
    }
    if (process.platform !== 'win32') await checkDeviceNode(path, options);
    const sharedWith = portHolders(path);

    let SerialPortClass: typeof SerialPort;
    try {
      ({ SerialPort: SerialPortClass } = await import('serialport'));
    } catch (error) {
      throw new McutrainError(`serial port support could not be loaded: ${(error as Error).message}`,
        'the serialport package has no native binding for this platform; reinstall mcutrain\'s dependencies (npm ci)');
    }
    let port: SerialPort;
    try {
      port = new SerialPortClass({ path, baudRate: baud, autoOpen: false, lock: true });
      await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    } catch (error) {
      throw await explainOpenError(path, baud, error as Error, options);
    }
    const transport = new SerialTransport(port, path, baud, sharedWith);
    try {
      // Bytes that arrived before we opened (a boot banner, a reply to someone else) are not ours.
      await new Promise<void>((resolve, reject) => port.flush((error) => (error ? reject(error) : resolve())));
    } catch (error) {
      await transport.close().catch(() => undefined);
      throw transport.deathError ?? new McutrainError(`${path} opened but then failed: ${(error as Error).message}`,
        'reconnect the board and try again');
    }
    return transport;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.deathError) return Promise.reject(this.deathError);
    if (this.closing) return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => {
      const abandon = (error: McutrainError) => {
        this.unsettledWrites.delete(abandon);
        reject(error);
      };
      this.unsettledWrites.add(abandon);
      this.port.write(Buffer.from(bytes), (error) => {
        if (!this.unsettledWrites.delete(abandon)) return; // already failed by the port's death or close
        if (!error) return resolve();
        // Let the 'error' event that follows a disconnect arrive first: its error says what happened.
        setImmediate(() => reject(this.deathError ?? (this.closing ? this.closedError()
          : new McutrainError(`cannot write to ${this.description}: ${error.message}`))));
      });
    });
  }

  onData(listener: (chunk: Uint8Array) => void): void {
    this.events.onData(listener);
  }

  onClose(listener: (error: McutrainError) => void): void {
    this.events.onClose(listener);
  }

  /**
   * Discards output not yet sent (so closing never waits for a stalled line) and closes the port.
   * The port is released in every case; rejects afterwards if it had gone away while in use.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.released ??= this.release();
    await this.released;
    for (const abandon of [...this.unsettledWrites]) abandon(this.deathError ?? this.closedError());
    if (this.deathError) throw this.deathError;
  }

  private async release(): Promise<void> {
    const port = this.port;
    if (!port.isOpen) return; // never opened, or serialport is already closing it after a disconnect
    await new Promise<void>((resolve) => port.flush(() => resolve()));
    if (!port.isOpen) return;
    const error = await new Promise<Error | null>((resolve) => port.close((e) => resolve(e ?? null)));
    // close(2) releases the descriptor even when it reports an error, and serialport forgets it.
    if (error && !this.deathError && !/not open/i.test(error.message)) {
      throw new McutrainError(`closing ${this.description} failed: ${error.message}`, 'reconnect the board before using it again');
    }
  }

  private closedError(): McutrainError {
    return new McutrainError(`${this.description} is closed`);
  }

  private died(error: Error | undefined): void {
    if (this.closing || this.deathError) return;
    // libuv reports a hung-up tty (POLLERR/POLLHUP) as EBADF, which reads like a bug here.
    const reason = !error?.message ? '' : /bad file descriptor/i.test(error.message) ? ' (the line was hung up)' : `: ${error.message}`;
    this.deathError = new McutrainError(
      `${this.description} went away while in use${reason}; the board was unplugged or reset its USB, or the other end closed the port`,
      'reconnect the board (check the cable), make sure it shows up again (a listing of serial ports names it), and run the command again');
    // serialport closes the port itself after a disconnect; make sure it is released in any case.
    this.released ??= this.release().catch(() => undefined);
    for (const abandon of [...this.unsettledWrites]) abandon(this.deathError);
    this.events.died(this.deathError);
  }
}

/** Before opening (Unix): the path names an existing character device we may open, or a clear error. */
async function checkDeviceNode(path: string, options: SerialOptions): Promise<void> {
  let info;
  try {
    info = statSync(path);
  } catch (error) {
    throw await explainOpenError(path, undefined, error as Error, options);
  }
  if (!info.isCharacterDevice()) {
    const what = info.isDirectory() ? 'a directory' : info.isFile() ? 'a regular file' : 'not a device';
    throw new McutrainError(`${path} is not a serial port (it is ${what})`, await portListHint(options));
  }
}

/**
 * A McutrainError for a port that would not open, from the OS's error (`ENOENT`, `Permission
 * denied`, `Cannot lock port`, Windows' `Access denied`, ...). Exported for the tests.
 */
export async function explainOpenError(path: string, baud: number | undefined, error: Error, options: SerialOptions = {}): Promise<McutrainError> {
  const text = `${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`;
  const windows = process.platform === 'win32';
  if (/ENOENT|No such file or directory|File not found/i.test(text)) {
    const hint = await portListHint(options);
    const devPath = `/dev/${path}`;
    const bare = !windows && !path.includes('/') && safeRealpath(devPath) !== undefined;
    return new McutrainError(`serial port ${path} does not exist; ${await portListing(options)}`,
      bare ? `did you mean ${devPath}? Otherwise ${hint}` : hint);
  }
  if (windows ? /Access denied/i.test(text) : /Cannot lock port|EBUSY|busy|EWOULDBLOCK|EAGAIN|temporarily unavailable/i.test(text)) {
    const holders = portHolders(path);
    const who = holders.length > 0 ? `: it is open in ${holders.map(describeHolder).join(', ')}` : '';
    return new McutrainError(`serial port ${path} is busy, another program has it open${who}`,
      `close the other program and try again; common ones are ${CULPRITS}`);
  }
  if (/EACCES|EPERM|Permission denied|Operation not permitted/i.test(text)) {
    return new McutrainError(`permission denied opening serial port ${path}${ownerText(path)}`, await permissionHint(path, options));
  }
  if (/ENXIO|ENODEV|No such device|EIO\b|Input\/output error/i.test(text)) {
    return new McutrainError(`serial port ${path} exists but no device answers behind it (${error.message})`,
      'it was unplugged just now, or it is a built-in UART with no hardware behind it; reconnect the board, or pick another port');
  }
  if (/ENOTTY|Inappropriate ioctl/i.test(text)) {
    return new McutrainError(`${path} is not a serial port (${error.message})`, await portListHint(options));
  }
  if (baud !== undefined && /baud/i.test(text)) {
    return new McutrainError(`serial port ${path} does not support ${baud} baud (${error.message})`,
      'use a standard rate the firmware\'s UART also runs at: 9600, 57600, 115200, 230400, 460800 or 921600');
  }
  return new McutrainError(`cannot open serial port ${path}: ${error.message}`,
    `check that the board is connected and no other program uses the port (${CULPRITS})`);
}

/** `serial ports on this computer: ...`, one per line, likely boards first. */
async function portListing(options: SerialOptions): Promise<string> {
  let ports: BoardPort[];
  try {
    ports = await (options.listPorts ?? listBoardPorts)();
  } catch (error) {
    return `the serial ports of this computer could not be listed (${(error as Error).message})`;
  }
  if (ports.length === 0) return 'no serial ports were found on this computer';
  // Built-in UARTs (often dozens of ttyS ports on a PC) are summed up, not listed.
  const builtin = ports.filter((p) => p.kind === 'builtin');
  const shown = builtin.length > 3 ? ports.filter((p) => p.kind !== 'builtin') : ports;
  const lines = shown.map((p) => {
    const what = p.guess ?? (p.kind === 'builtin' ? 'serial port (not USB)' : 'unknown USB serial device');
    const id = usbIdOf(p);
    return `  ${p.path}  ${what}${id ? ` [${id}${p.serialNumber ? ` serial ${p.serialNumber}` : ''}]` : ''}${p.note ? ` (${p.note})` : ''}`;
  });
  if (shown !== ports) lines.push(`  and ${builtin.length} built-in serial ports (${builtin[0].path} ... ${builtin[builtin.length - 1].path})`);
  return `serial ports on this computer:\n${lines.join('\n')}`;
}

async function portListHint(options: SerialOptions): Promise<string> {
  let ports: BoardPort[] = [];
  try {
    ports = await (options.listPorts ?? listBoardPorts)();
  } catch {
    // portListing() says so
  }
  const board = ports.find((p) => p.kind === 'probe') ?? ports.find((p) => p.kind === 'adapter');
  if (board) return `pass the board's port, probably ${board.path} (${board.guess})`;
  return 'connect the board with a data cable (not a charge-only one) and pass its port: /dev/ttyACM<n> or /dev/ttyUSB<n> on Linux, '
    + '/dev/cu.usbmodem<...> on macOS, COM<n> on Windows (Device Manager lists it)';
}

/** ` (owner root, group dialout, mode 0660)`, where the OS says it. */
function ownerText(path: string): string {
  if (process.platform === 'win32') return '';
  try {
    const info = statSync(path);
    return ` (owner ${userName(info.uid) ?? info.uid}, group ${groupOf(info.gid)?.name ?? info.gid}, mode ${(info.mode & 0o777).toString(8).padStart(4, '0')})`;
  } catch {
    return '';
  }
}

async function permissionHint(path: string, options: SerialOptions): Promise<string> {
  if (process.platform !== 'linux') return 'give your user read and write access to the port, or ask the administrator to';
  let user = '$USER';
  try {
    user = userInfo().username;
  } catch {
    // no name for this uid: keep the variable
  }
  let info;
  try {
    info = statSync(path);
  } catch {
    info = undefined;
  }
  const group = info ? groupOf(info.gid) : undefined;
  let id: string | undefined;
  try {
    const real = realpathSync(path);
    const ports = await (options.listPorts ?? listBoardPorts)();
    const port = ports.find((p) => p.path === path || safeRealpath(p.path) === real);
    if (port?.vendorId && port.productId) id = `${port.vendorId}:${port.productId}`;
  } catch {
    // no USB ids: a generic rule
  }
  const [vendor, product] = id ? id.split(':') : ['<vid>', '<pid>'];
  const udev = `let the logged-in user open it with a udev rule: put SUBSYSTEM=="tty", ATTRS{idVendor}=="${vendor}", `
    + `ATTRS{idProduct}=="${product}", MODE="0660", TAG+="uaccess" in /etc/udev/rules.d/70-mcutrain.rules, `
    + 'run sudo udevadm control --reload-rules && sudo udevadm trigger, and replug the board';
  const groupUsable = info !== undefined && group !== undefined && group.gid !== 0 && (info.mode & 0o060) === 0o060;
  if (!groupUsable) return `no group may open the port; ${udev}`;
  const gid = group.gid;
  if (group.members.includes(user) && !(process.getgroups?.() ?? []).includes(gid)) {
    return `you are in the '${group.name}' group, but this login session started before you were added: `
      + `log out and back in (or run: newgrp ${group.name}); or ${udev}`;
  }
  return `add yourself to the '${group.name}' group: sudo usermod -aG ${group.name} ${user}, then log out and back in; or ${udev}`;
}

function safeRealpath(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

function userName(uid: number): string | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (Number(id) === uid && name) return name;
    }
  } catch {
    // no /etc/passwd (macOS keeps users elsewhere)
  }
  return undefined;
}

function groupOf(gid: number): { name: string; gid: number; members: string[] } | undefined {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [name, , id, members] = line.split(':');
      if (Number(id) === gid && name) return { name, gid, members: (members ?? '').split(',').filter(Boolean) };
    }
  } catch {
    // no /etc/group
  }
  return undefined;
}

function describeHolder(holder: PortHolder): string {
  return `${holder.command} (pid ${holder.pid}${holder.pid === process.pid ? ', this process' : ''})`;
}

/**
 * The processes that have the port open (Linux, best effort): from /proc (only the processes this
 * user may inspect) and from UUCP lock files (/var/lock/LCK..ttyACM0, written by minicom and others).
 */
export function portHolders(path: string): PortHolder[] {
  if (process.platform !== 'linux') return [];
  const real = safeRealpath(path);
  if (!real) return [];
  const pids = new Set<number>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    // no /proc
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // gone, or not ours to inspect
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${entry}/fd/${fd}`) === real) {
          pids.add(Number(entry));
          break;
        }
      } catch {
        // closed meanwhile
      }
    }
  }
  const name = real.split('/').pop();
  for (const dir of ['/var/lock', '/run/lock']) {
    try {
      const pid = Number(readFileSync(`${dir}/LCK..${name}`, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && commandOf(pid) !== undefined) pids.add(pid);
    } catch {
      // no lock file
    }
  }
  return [...pids].sort((a, b) => a - b).map((pid) => ({ pid, command: commandOf(pid) ?? '?' }));
}

function commandOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
