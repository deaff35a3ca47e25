/**
 * SerialTransport on real ttys without a board: socat makes pseudo-terminals, either a linked pair
 * or one whose other end is the real C link server (firmware/link, host platform, the fake test
 * model of host_link.test.ts, built with ASan/UBSan). Also the port errors and the port listing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { McutrainError } from '../../src/errors.ts';
import { Device } from '../../src/link/device.ts';
import {
  classifyPort, describePorts, formatPorts, interfaceNumberOf, listBoardPorts, type PortRecord,
} from '../../src/link/ports.ts';
import { explainOpenError, SerialTransport } from '../../src/link/serial_transport.ts';
import { buildFakeEngine } from './fake_engine.ts';

const IN_BYTES = 1024;
/** Bounds on waits that end on an event: only a hang reaches them, however loaded the machine. */
const HANG_MS = 60_000;

const haveSocat = spawnSync('socat', ['-V']).status === 0;
const linux = process.platform === 'linux';

let dir: string;
let engine: string;
let ptyCount = 0;
const started: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-serial-'));
  engine = path.join(dir, 'engine');
  if (haveSocat) await buildFakeEngine(engine);
});

afterEach(() => {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Socat {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function socat(args: string[]): Socat {
  const child = spawn('socat', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  started.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, stderr: () => stderr, exited };
}

async function waitForPath(p: string, ms = HANG_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!existsSync(p)) {
    if (Date.now() > deadline) throw new Error(`socat did not create ${p}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A pty whose other end is the engine; socat starts it once the pty is opened, and ends when it is closed. */
async function enginePty(): Promise<{ tty: string; session: Socat }> {
  const tty = path.join(dir, `engine-tty-${ptyCount++}`);
  const session = socat([`pty,raw,echo=0,link=${tty},wait-slave`, `EXEC:${engine}`]);
  await waitForPath(tty);
  return { tty, session };
}

/** Two linked ptys: bytes written to one come out of the other. socat keeps both open itself. */
async function ptyPair(): Promise<{ a: string; b: string; session: Socat }> {
  const n = ptyCount++;
  const a = path.join(dir, `a-${n}`);
  const b = path.join(dir, `b-${n}`);
  const session = socat([`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`]);
  await waitForPath(a);
  await waitForPath(b);
  return { a, b, session };
}

function pattern(seed: number): Uint8Array {
  const bytes = new Uint8Array(IN_BYTES);
  for (let i = 0; i < IN_BYTES; i++) bytes[i] = (i * 37 + seed * 11) & 0xff;
  bytes[3] = 127;
  bytes[4] = 0x80;
  return bytes;
}

function expected(input: Uint8Array, invocation: number): number[] {
  const out = Array.from(new Int8Array(input.buffer, input.byteOffset, input.length), (v) => (v === 127 ? 127 : v + 1) & 0xff);
  return [...out, invocation & 0xff, (invocation >> 8) & 0xff, 0, 0];
}

async function rejection(p: Promise<unknown>): Promise<McutrainError> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(McutrainError);
  return error as McutrainError;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms); }),
  ]);
}

/** Collects what arrives on a transport. */
function collect(t: SerialTransport): { bytes: () => number[]; until: (n: number) => Promise<number[]> } {
  const got: number[] = [];
  const waiters: (() => void)[] = [];
  t.onData((chunk) => {
    got.push(...chunk);
    for (const w of waiters.splice(0)) w();
  });
  const until = async (n: number) => {
    const deadline = Date.now() + HANG_MS;
    while (got.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${got.length} of ${n} bytes arrived`);
      await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 50); });
    }
    return got.slice();
  };
  return { bytes: () => got.slice(), until };
}

it('has socat to make ptys (apt-get install socat)', () => {
  expect(haveSocat).toBe(true);
});

describe.skipIf(!haveSocat || !linux)('SerialTransport over a pty', () => {
  it('drives the real C engine: HELLO and INFER, then close ends the session cleanly', async () => {
    const { tty, session } = await enginePty();
    const transport = await SerialTransport.open(tty);
    expect(transport.description).toBe(`${tty} at 115200 baud`);
    expect(transport.bytesPerSecond).toBe(11520);
    // A reply timeout only a hang reaches: on a loaded machine the sanitized engine may take seconds to answer.
    const device = new Device(transport, { timeoutMs: HANG_MS });
    const info = await device.hello();
    expect(info).toMatchObject({ protocolVersion: 3, modelHash: '0123456789abcdef', buildId: 'fake-model-build', maxRequestBytes: 600 });
    // The engine counts its invocations into the output: each INFER ran exactly once, whatever was resent.
    for (let k = 1; k <= 3; k++) {
      expect(Array.from(await device.infer(pattern(k)))).toEqual(expected(pattern(k), k));
    }
    expect(device.stats.requests).toBe(4);
    await device.close();
    // Our close hangs up the pty: socat ends the engine's input, and the engine exits without a sanitizer report.
    expect(await within(session.exited, HANG_MS, 'socat ending after close')).toEqual({ code: 0, signal: null });
    expect(session.stderr()).toBe('');
  });

  it('takes the rate from the baud', async () => {
    const { a } = await ptyPair();
    const transport = await SerialTransport.open(a, { baud: 921600 });
    expect(transport.bytesPerSecond).toBe(92160);
    expect(transport.description).toMatch(new RegExp(`^${a} at 921600 baud`));
    await transport.close();
    await expect(rejection(SerialTransport.open(a, { baud: 0 }))).resolves.toMatchObject({ message: '0 is not a baud rate' });
    await expect(rejection(SerialTransport.open(a, { baud: 115200.5 }))).resolves.toBeInstanceOf(McutrainError);
  });

  it('moves bytes both ways, and names the other programs that have the port open', async () => {
    const { a, b, session } = await ptyPair();
    const ta = await SerialTransport.open(a);
    const tb = await SerialTransport.open(b);
    expect(ta.description).toBe(`${a} at 115200 baud (also open in socat (pid ${session.child.pid}))`);
    const atB = collect(tb);
    const atA = collect(ta);
    const big = new Uint8Array(20000).map((_, i) => (i * 7) & 0xff);
    await ta.write(big);
    expect(await atB.until(big.length)).toEqual(Array.from(big));
    await tb.write(Uint8Array.of(1, 2, 3));
    expect(await atA.until(3)).toEqual([1, 2, 3]);
    await ta.close();
    await tb.close();
    await expect(rejection(ta.write(Uint8Array.of(1)))).resolves.toMatchObject({ message: `${ta.description} is closed` });
    await ta.close(); // twice is fine
  });

  it('reports a port another program has open (locked), and opens it once that program let go', async () => {
    const { a, session } = await ptyPair();
    const first = await SerialTransport.open(a);
    const busy = await rejection(SerialTransport.open(a));
    expect(busy.message).toMatch(new RegExp(`^serial port ${a} is busy, another program has it open: it is open in .+$`));
    expect(busy.message).toContain(`(pid ${process.pid}, this process)`);
    expect(busy.message).toContain(`socat (pid ${session.child.pid})`);
    expect(busy.hint).toMatch(/close the other program and try again; common ones are a serial monitor .*screen, minicom/);
    await first.close();
    const again = await SerialTransport.open(a);
    await again.close();
  });

  it('close() releases the port even while a write is stalled', async () => {
    const { a } = await ptyPair(); // nobody reads b: the pty buffers fill and the write waits
    const transport = await SerialTransport.open(a);
    const stalled = transport.write(new Uint8Array(1 << 20));
    const outcome = stalled.then(() => 'written', (e: unknown) => e);
    await new Promise((r) => setImmediate(r)); // the write is under way (1 MiB never fits the pty's buffers)
    await within(transport.close(), HANG_MS, 'close with a stalled write');
    const result = await within(outcome, HANG_MS, 'the stalled write to settle');
    expect(result).toBeInstanceOf(McutrainError);
    expect((result as McutrainError).message).toBe(`${transport.description} is closed`);
    const again = await SerialTransport.open(a); // not half-open: the lock is gone
    await again.close();
  });

  it('fails a pending request at once, with a clear error, when the other side closes the port', async () => {
    const { a, b, session } = await ptyPair(); // b only listens, nothing answers: the request stays pending
    const transport = await SerialTransport.open(a);
    const listener = await SerialTransport.open(b);
    const atB = collect(listener);
    const closes: McutrainError[] = [];
    transport.onClose((e) => closes.push(e));
    // Only a hang reaches this timeout, so the request can only fail through the hangup, never by timing out.
    const device = new Device(transport, { timeoutMs: 10 * HANG_MS });
    const pending = rejection(device.hello());
    await atB.until(1); // the request is on the line
    session.child.kill('SIGTERM');
    const error = await within(pending, HANG_MS, 'the pending request to fail');
    expect(device.stats.timeouts).toBe(0);
    expect(error.message).toMatch(new RegExp(`^${a} at 115200 baud .*went away while in use.*; the board was unplugged or reset its USB, or the other end closed the port$`));
    expect(error.hint).toMatch(/reconnect the board/);
    expect(closes).toEqual([error]);
    // Later requests and close() report the same; the port is released all the same.
    expect(await rejection(device.infer(pattern(1)))).toBe(error);
    expect(await rejection(device.close())).toBe(error);
    expect(closes).toHaveLength(1);
    await listener.close().catch(() => undefined); // hung up too
  });

  it('reports the engine side ending mid-session through the Device', async () => {
    const { tty, session } = await enginePty();
    const transport = await SerialTransport.open(tty);
    const device = new Device(transport, { timeoutMs: 10 * HANG_MS });
    expect((await device.hello()).buildId).toBe('fake-model-build');
    session.child.kill('SIGTERM');
    await session.exited;
    // The hangup may be noticed before, during or after the request is written; it fails in each case.
    const error = await within(rejection(device.infer(pattern(1))), HANG_MS, 'a request after the hangup');
    expect(error.message).toMatch(/went away while in use/);
    expect(device.stats.timeouts).toBe(0);
    await rejection(device.close());
  });

  it('fails a write that serialport queued while it was closing the port after a hangup', async () => {
    const { a } = await ptyPair();
    const transport = await SerialTransport.open(a);
    const closes: McutrainError[] = [];
    transport.onClose((e) => closes.push(e));
    // What serialport does on its own when it sees a hangup: it starts closing the port behind our back,
    // and a write in that window waits for an 'open' that never comes. The write must fail all the same.
    const port = (transport as unknown as { port: { close: () => void } }).port;
    port.close();
    const error = await within(rejection(transport.write(Uint8Array.of(1, 2, 3))), HANG_MS, 'a write while the port closes');
    expect(error.message).toMatch(/went away while in use/);
    expect(closes).toEqual([error]);
    await transport.close().catch(() => undefined);
  });
});

describe('opening ports that are not there', () => {
  const fakeRecords: PortRecord[] = [
    ...Array.from({ length: 32 }, (_, i) => ({ path: `/dev/ttyS${i}` })),
    { path: '/dev/ttyACM0', vendorId: '0483', productId: '374b', serialNumber: '066DFF', manufacturer: 'STMicroelectronics' },
    { path: '/dev/ttyUSB0', vendorId: '10c4', productId: 'ea60' },
  ];
  const listPorts = async () => describePorts(fakeRecords);

  it('lists the ports that exist, likely boards first, built-in UARTs summed up', async () => {
    const missing = path.join(tmpdir(), 'mcutrain-no-such-port');
    const e = await rejection(SerialTransport.open(missing, { listPorts }));
    expect(e.message).toBe(`serial port ${missing} does not exist; serial ports on this computer:\n`
      + '  /dev/ttyACM0  ST-Link V2-1 VCP (Nucleo / Discovery board) [0483:374b serial 066DFF]\n'
      + '  /dev/ttyUSB0  Silicon Labs CP210x USB-serial [10c4:ea60]\n'
      + '  and 32 built-in serial ports (/dev/ttyS0 ... /dev/ttyS31)');
    expect(e.hint).toBe('pass the board\'s port, probably /dev/ttyACM0 (ST-Link V2-1 VCP (Nucleo / Discovery board))');
  });

  it('says when there are none, or when they cannot be listed', async () => {
    const missing = '/dev/ttyACM97';
    const none = await rejection(SerialTransport.open(missing, { listPorts: async () => [] }));
    expect(none.message).toBe(`serial port ${missing} does not exist; no serial ports were found on this computer`);
    expect(none.hint).toMatch(/connect the board with a data cable .* COM<n> on Windows/);
    const broken = await rejection(SerialTransport.open(missing, { listPorts: async () => { throw new Error('udevadm exploded'); } }));
    expect(broken.message).toMatch(/does not exist; the serial ports of this computer could not be listed \(udevadm exploded\)/);
  });

  it('lists this computer\'s real ports by default', async () => {
    const e = await rejection(SerialTransport.open('/dev/ttyACM97'));
    expect(e.message).toMatch(/^serial port \/dev\/ttyACM97 does not exist; (serial ports on this computer:\n {2}\S|no serial ports were found)/);
  });

  it.skipIf(!linux)('suggests /dev/ for a bare device name', async () => {
    const e = await rejection(SerialTransport.open('null', { listPorts: async () => [] }));
    expect(e.message).toMatch(/^serial port null does not exist/);
    expect(e.hint).toMatch(/^did you mean \/dev\/null\? Otherwise connect the board/);
  });

  it.skipIf(process.platform === 'win32')('refuses a path that is not a device', async () => {
    const file = path.join(dir, 'not-a-tty');
    writeFileSync(file, 'x');
    const e = await rejection(SerialTransport.open(file, { listPorts }));
    expect(e.message).toBe(`${file} is not a serial port (it is a regular file)`);
    expect(e.hint).toMatch(/probably \/dev\/ttyACM0/);
  });
});

describe('open errors', () => {
  // A group to give the fake device node: dialout where it exists, else any group but root's.
  const groups = linux ? readFileSync('/etc/group', 'utf8').split('\n').map((l) => l.split(':')).filter((g) => Number(g[2]) > 0) : [];
  const group = groups.find((g) => g[0] === 'dialout') ?? groups[0];
  const root = process.getuid?.() === 0;

  it.skipIf(!linux || !root || !group)('permission denied: the owning group and what to do', async () => {
    const node = path.join(dir, 'ttyPerm');
    writeFileSync(node, '');
    chownSync(node, 0, Number(group[2]));
    chmodSync(node, 0o660);
    const listPorts = async () => describePorts([{ path: node, vendorId: '0483', productId: '374b' }]);
    const e = await explainOpenError(node, 115200, new Error(`Error: Permission denied, cannot open ${node}`), { listPorts });
    expect(e.message).toMatch(new RegExp(`^permission denied opening serial port ${node} \\(owner \\S+, group \\S+, mode 0660\\)$`));
    expect(e.message).toContain(`group ${group[0]}, mode 0660`);
    expect(e.hint).toMatch(new RegExp(`^add yourself to the '${group[0]}' group: sudo usermod -aG ${group[0]} \\S+, then log out and back in; `
      + 'or let the logged-in user open it with a udev rule'));
    expect(e.hint).toContain('ATTRS{idVendor}=="0483", ATTRS{idProduct}=="374b", MODE="0660", TAG+="uaccess"');

    chmodSync(node, 0o600); // no group may open it: only the udev rule helps
    const private_ = await explainOpenError(node, 115200, new Error('EACCES: permission denied'), { listPorts });
    expect(private_.hint).toMatch(/^no group may open the port; let the logged-in user open it with a udev rule/);
  });

  it('busy, gone, not a tty, bad baud, and anything else', async () => {
    const p = '/dev/ttyFAKE0';
    const listPorts = async () => [];
    const busy = await explainOpenError(p, 115200, new Error('Error Resource temporarily unavailable Cannot lock port'), { listPorts });
    expect(busy.message).toBe(`serial port ${p} is busy, another program has it open`);
    expect(busy.hint).toMatch(/serial monitor/);
    expect((await explainOpenError(p, 115200, new Error('Error: Device or resource busy, cannot open /dev/ttyFAKE0'))).message)
      .toMatch(/is busy, another program has it open/);
    const gone = await explainOpenError(p, 115200, new Error('Error: No such device or address, cannot open /dev/ttyFAKE0'), { listPorts });
    expect(gone.message).toMatch(/exists but no device answers behind it/);
    const eio = await explainOpenError(p, 115200, new Error('Error: Input/output error, cannot open /dev/ttyFAKE0'), { listPorts });
    expect(eio.hint).toMatch(/built-in UART with no hardware/);
    expect((await explainOpenError(p, 115200, new Error('Error: Inappropriate ioctl for device'), { listPorts })).message)
      .toBe(`${p} is not a serial port (Error: Inappropriate ioctl for device)`);
    const baud = await explainOpenError(p, 123, new Error('Error baud rate of 123 is not supported on your platform'), { listPorts });
    expect(baud.message).toMatch(/does not support 123 baud/);
    const other = await explainOpenError(p, 115200, new Error('Error: something odd'), { listPorts });
    expect(other.message).toBe(`cannot open serial port ${p}: Error: something odd`);
  });
});

describe('listBoardPorts', () => {
  const records: PortRecord[] = [
    { path: '/dev/ttyS0' },
    { path: '/dev/ttyUSB3', vendorId: '1a86', productId: '7523', manufacturer: '1a86' },
    { path: '/dev/ttyACM10', vendorId: '0483', productId: '374b', manufacturer: 'STMicroelectronics', serialNumber: '0670FF5',
      pnpId: 'usb-STMicroelectronics_STM32_STLink_0670FF5-if02' },
    { path: '/dev/ttyACM2', vendorId: '1d50', productId: '6018', serialNumber: '7BB180B4',
      pnpId: 'usb-Black_Magic_Debug_Black_Magic_Probe_v1.10_7BB180B4-if00' },
    { path: '/dev/ttyACM3', vendorId: '1d50', productId: '6018', serialNumber: '7BB180B4',
      pnpId: 'usb-Black_Magic_Debug_Black_Magic_Probe_v1.10_7BB180B4-if02' },
    { path: '/dev/ttyUSB0', vendorId: '0403', productId: '6010', pnpId: 'usb-FTDI_Dual_RS232-HS-if01-port0' },
    { path: '/dev/ttyACM7', vendorId: 'abcd', productId: '1234' },
  ];

  it('guesses what each port is and sorts likely boards first', async () => {
    const ports = await listBoardPorts({ list: async () => records });
    expect(ports.map((p) => [p.path, p.kind, p.guess])).toEqual([
      ['/dev/ttyACM3', 'probe', 'Black Magic Probe UART (the board\'s serial)'],
      ['/dev/ttyACM10', 'probe', 'ST-Link V2-1 VCP (Nucleo / Discovery board)'],
      ['/dev/ttyUSB0', 'adapter', 'FTDI FT2232 channel B'],
      ['/dev/ttyUSB3', 'adapter', 'WCH CH340 USB-serial'],
      ['/dev/ttyACM7', 'usb', undefined],
      ['/dev/ttyS0', 'builtin', undefined],
      ['/dev/ttyACM2', 'gdb-server', 'Black Magic Probe GDB server'],
    ]);
    expect(ports[1]).toEqual({
      path: '/dev/ttyACM10', manufacturer: 'STMicroelectronics', serialNumber: '0670FF5', vendorId: '0483', productId: '374b',
      interfaceNumber: 2, kind: 'probe', guess: 'ST-Link V2-1 VCP (Nucleo / Discovery board)',
    });
    expect(ports[6].note).toMatch(/not the board's UART/);
    expect(ports[3].note).toMatch(/brltty/);
  });

  it('knows the probes and adapters of the table', () => {
    const guess = (vendorId: string, productId: string, extra: Partial<PortRecord> = {}) =>
      classifyPort({ path: 'COM9', vendorId, productId, ...extra }).guess;
    for (const pid of ['374b', '3752']) expect(guess('0483', pid)).toMatch(/^ST-Link V2-1 VCP/);
    for (const pid of ['374e', '374f', '3753']) expect(guess('0483', pid)).toMatch(/^ST-Link V3 VCP/);
    expect(guess('0483', '3748')).toBeUndefined(); // ST-Link V2: no VCP
    expect(guess('1366', '0105')).toBe('SEGGER J-Link VCOM');
    expect(guess('1366', '1015')).toBe('SEGGER J-Link OB VCOM (Nordic nRF DK)');
    expect(guess('1915', 'c00a')).toMatch(/^Nordic nRF/);
    expect(guess('0d28', '0204')).toMatch(/^Arm DAPLink/);
    expect(guess('2e8a', '000a')).toMatch(/RP2040/);
    expect(guess('2e8a', '0004')).toMatch(/Picoprobe/);
    expect(guess('2e8a', '000c')).toMatch(/Debug Probe/);
    expect(guess('2e8a', '0003')).toBeUndefined(); // the RP2040 boot ROM has no serial port
    expect(guess('10c4', 'ea60')).toMatch(/CP210x/);
    expect(guess('0403', '6001')).toMatch(/FT232R/);
    expect(guess('0403', '6014')).toMatch(/FT232H/);
    expect(guess('0403', '6010', { interfaceNumber: 0 })).toBe('FTDI FT2232 channel A');
    expect(guess('0403', '6010')).toMatch(/channel A or B/);
    expect(guess('1a86', '7523')).toMatch(/CH340/);
    // Windows reports upper case; some systems a 0x prefix.
    expect(classifyPort({ path: 'COM4', vendorId: '0483', productId: '374E' })).toMatchObject({ vendorId: '0483', productId: '374e', kind: 'probe' });
    expect(classifyPort({ path: 'COM4', vendorId: '0x0D28', productId: '0x0204' }).guess).toMatch(/DAPLink/);
  });

  it('tells the Black Magic Probe\'s GDB port from its UART on every OS', () => {
    const bmp = { vendorId: '1d50', productId: '6018', serialNumber: '7BB180B4' };
    const kind = (r: Omit<PortRecord, 'vendorId'>) => classifyPort({ ...bmp, ...r }).kind;
    expect(kind({ path: 'COM7', pnpId: 'USB\\VID_1D50&PID_6018&MI_00\\7&2B9FF1C2&0&0000' })).toBe('gdb-server');
    expect(kind({ path: 'COM8', pnpId: 'USB\\VID_1D50&PID_6018&MI_02\\7&2B9FF1C2&0&0002' })).toBe('probe');
    expect(kind({ path: '/dev/cu.usbmodem7BB180B41' })).toBe('gdb-server');
    expect(kind({ path: '/dev/cu.usbmodem7BB180B43' })).toBe('probe');
    expect(kind({ path: '/dev/ttyACM5', interfaceNumber: 2 })).toBe('probe');
    const unknown = classifyPort({ ...bmp, path: '/dev/ttyACM9' });
    expect(unknown).toMatchObject({ kind: 'probe', guess: 'Black Magic Probe (GDB server or UART)' });
    expect(unknown.note).toMatch(/higher-numbered/);
    expect(interfaceNumberOf({ path: '/dev/cu.usbmodem1103', serialNumber: 'ABC' })).toBeUndefined();
    expect(interfaceNumberOf({ path: '/dev/ttyUSB1', pnpId: 'usb-FTDI_Quad_RS232-HS-if0a-port0' })).toBe(10);
  });

  it('formats a table', () => {
    const table = formatPorts(describePorts(records.slice(0, 3)));
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^PORT +PROBABLY +USB ID +SERIAL +MANUFACTURER$/);
    expect(lines[2]).toMatch(/^\/dev\/ttyACM10 +ST-Link V2-1 VCP \(Nucleo \/ Discovery board\) +0483:374b if2 +0670FF5 +STMicroelectronics$/);
    expect(lines[3]).toMatch(/^\/dev\/ttyUSB3 +WCH CH340 USB-serial +1a86:7523 +1a86$/);
    expect(lines[4]).toMatch(/^\/dev\/ttyS0 +serial port \(not USB\)$/);
    expect(lines.slice(5)).toEqual(['', '/dev/ttyUSB3: if it vanishes right after plugging in on Linux, brltty took it: remove the brltty package']);
    expect(formatPorts([])).toBe('no serial ports found');
  });

  it('lists this computer\'s ports', async () => {
    const ports = await listBoardPorts();
    for (const port of ports) expect(port.path).toMatch(/^(\/dev\/|COM)/);
  });
});
