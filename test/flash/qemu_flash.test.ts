/**
 * Flashing the emulated mps2-an500 for real, with firmware built as a generated project builds it
 * (test/emulate/mps2_firmware.ts):
 *  - the gdb method against QEMU's own gdbstub: a bare board (no -kernel, halted, `-gdb tcp:...`)
 *    gets the image through M packets, is verified by read-back, reset and started, and the
 *    firmware then answers on its UART; writes into a peripheral that does not keep them fail
 *    verification;
 *  - the qemu method (flashQemu): QEMU loads the ELF, the gdbstub reads it back, the board runs (or
 *    waits halted at its reset vector); an image QEMU cannot place in memory fails verification;
 *  - the ELF reader against objcopy's .bin of the same firmware;
 *  - GDB itself (gdb-multiarch's compare-sections, which computes qCRC with libiberty's xcrc32)
 *    against the fake stub's CRC, the oracle for the CRC convention the gdb method verifies with.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McutrainError } from '../../src/errors.ts';
import { gdbOverTcp } from '../../src/flash/gdb_flash.ts';
import { flattenImage, loadFirmwareImage, makeImage } from '../../src/flash/image.ts';
import { flashQemu, QemuFlasher } from '../../src/flash/qemu_flash.ts';
import { Device } from '../../src/link/device.ts';
import type { Transport } from '../../src/link/transport.ts';
import { loadMps2Target, makeFirmware, writeMps2Project } from '../emulate/mps2_firmware.ts';
import { writeElf32 } from './elf_writer.ts';
import { FakeGdbStub } from './fake_gdb_stub.ts';

const BANNER = 'mcutrain mps2 test harness\n';
const target = loadMps2Target('mps2-an500');
let dir: string;
let harnessElf: string;
let linkElf: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-flash-'));
  const harnessDir = path.join(dir, 'harness');
  const linkDir = path.join(dir, 'link');
  writeMps2Project(harnessDir, target, { linkServer: false });
  writeMps2Project(linkDir, target, { linkServer: true });
  const [h, l] = await Promise.all([makeFirmware(harnessDir, 'mps2_test_main.c'), makeFirmware(linkDir)]);
  if (!h.ok) throw new Error(`building the harness failed:\n${h.log}`);
  if (!l.ok) throw new Error(`building the link server failed:\n${l.log}`);
  harnessElf = h.elf;
  linkElf = l.elf;
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Reads bytes as they arrive on a byte stream. */
class Reader {
  private buffered = Buffer.alloc(0);
  constructor(subscribe: (listener: (chunk: Uint8Array) => void) => void) {
    subscribe((chunk) => { this.buffered = Buffer.concat([this.buffered, chunk]); });
  }

  async read(n: number, timeoutMs = 60_000): Promise<Buffer> { // only a hang reaches it
    const deadline = Date.now() + timeoutMs;
    while (this.buffered.length < n) {
      if (Date.now() > deadline) throw new Error(`timed out with ${this.buffered.length} of ${n} bytes: '${this.buffered.toString('latin1')}'`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  get pending(): number {
    return this.buffered.length;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

interface BareBoard {
  uart: net.Socket;
  gdbPort: number;
  child: ChildProcess;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** An mps2-an500 with empty memory: no -kernel, halted (-S), gdbstub on a free port, UART0 on a socket. */
async function bareBoard(): Promise<BareBoard> {
  const sockDir = mkdtempSync(path.join('/tmp', 'mcutrain-bare-'));
  const sock = path.join(sockDir, 'uart0.sock');
  const gdbPort = await freePort();
  const child = spawn('qemu-system-arm', [
    '-machine', 'mps2-an500', '-nodefaults', '-display', 'none', '-monitor', 'none',
    '-chardev', `socket,id=uart0,path=${sock},server=on,wait=on`, '-serial', 'chardev:uart0',
    '-semihosting-config', 'enable=on,target=native', '-icount', 'shift=6',
    '-S', '-gdb', `tcp:127.0.0.1:${gdbPort}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const deadline = Date.now() + 60_000; // only a QEMU that never starts reaches it
  let uart: net.Socket | undefined;
  while (!uart) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`QEMU did not open its UART: ${stderr}`);
    if (existsSync(sock)) {
      uart = await new Promise<net.Socket | undefined>((resolve) => {
        const s = net.createConnection(sock);
        s.once('connect', () => resolve(s));
        s.once('error', () => resolve(undefined));
      });
    }
    if (!uart) await new Promise((r) => setTimeout(r, 20));
  }
  // The gdbstub starts listening a moment after the UART connects.
  for (;;) {
    const listening = await new Promise<boolean>((resolve) => {
      const s = net.createConnection({ host: '127.0.0.1', port: gdbPort });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (listening) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`QEMU's gdbstub did not listen: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    uart, gdbPort, child, exited,
    stop: async () => {
      uart!.destroy();
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(sockDir, { recursive: true, force: true });
    },
  };
}

async function runsHarness(reader: Reader, write: (b: Uint8Array) => unknown): Promise<void> {
  expect((await reader.read(BANNER.length)).toString()).toBe(BANNER);
  const data = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff));
  const header = Buffer.alloc(5);
  header.write('E', 0, 'latin1');
  header.writeUInt32LE(data.length, 1);
  write(Buffer.concat([header, data]));
  expect((await reader.read(data.length)).equals(data)).toBe(true);
}

describe('the ELF reader', () => {
  it('gives the same bytes at the same addresses as objcopy -O binary', () => {
    const image = loadFirmwareImage(harnessElf);
    const bin = readFileSync(harnessElf.replace(/\.elf$/, '.bin'));
    const flat = flattenImage(image);
    expect(flat.address).toBe(0);
    expect(Buffer.from(flat.bytes).equals(bin)).toBe(true);
    expect(image.entry! & 1).toBe(1); // a Thumb entry point
    // The vector table comes first: the initial SP (the top of the stack) is in the SRAM.
    const sp = new DataView(flat.bytes.buffer).getUint32(0, true);
    expect(sp).toBeGreaterThan(0x20000000);
    expect(sp).toBeLessThanOrEqual(0x20000000 + target.sram.bytes);
  });
});

const hasGdb = spawnSync('gdb-multiarch', ['--version']).status === 0;

describe('the CRC convention of qCRC, checked by GDB itself', () => {
  it.skipIf(!hasGdb)('gdb-multiarch compare-sections agrees with the fake stub, and notices a wrong CRC', async () => {
    const compare = async (corruptCrc: boolean) => {
      const stub = new FakeGdbStub({ flash: { start: 0, length: 0x100000, blockSize: 0x1000 }, ram: { start: 0x20000000, length: 0x100000 }, corruptCrc });
      for (const s of loadFirmwareImage(harnessElf).segments) stub.flash.set(s.bytes, s.address);
      const server = net.createServer((sock) => sock.on('data', (c) => stub.receive(c, sock)));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as net.AddressInfo).port;
      try {
        return await new Promise<string>((resolve) => {
          const gdb = spawn('gdb-multiarch', ['-nx', '-batch', '-ex', 'set architecture arm', '-ex', `target remote 127.0.0.1:${port}`, '-ex', 'compare-sections', harnessElf]);
          let out = '';
          gdb.stdout.on('data', (c: Buffer) => { out += c.toString(); });
          gdb.stderr.on('data', (c: Buffer) => { out += c.toString(); });
          gdb.on('close', () => resolve(out));
        });
      } finally {
        server.close();
      }
    };
    const good = await compare(false);
    expect(good).toMatch(/Section \.text, range 0x[0-9a-f]+ -- 0x[0-9a-f]+: matched\./);
    expect(good).not.toMatch(/MIS-MATCHED/);
    expect(await compare(true)).toMatch(/Section \.text, range .*: MIS-MATCHED!/);
  });
});

describe('the gdb method against QEMU\'s gdbstub', () => {
  it('writes the ELF into the empty board, verifies it by read-back, resets it and the firmware runs', async () => {
    const board = await bareBoard();
    try {
      const reader = new Reader((l) => board.uart.on('data', l));
      const image = loadFirmwareImage(harnessElf);
      const progress: number[] = [];
      const report = await gdbOverTcp(`127.0.0.1:${board.gdbPort}`, { reset: { kind: 'monitor', command: 'system_reset' } })
        .flash(image, (p) => { if (p.phase === 'verify') progress.push(p.done); });
      expect(report).toMatchObject({
        method: 'gdb',
        device: `GDB server at 127.0.0.1:${board.gdbPort}`,
        bytesWritten: image.segments.reduce((n, s) => n + s.bytes.length, 0),
        verification: { method: 'read-back', ok: true },
      });
      expect(report.verification.detail).toMatch(/^read back all \d+ bytes through the GDB stub: CRC-32 0x[0-9a-f]{8} matches/);
      expect(report.notes.at(-1)).toBe("reset with 'monitor system_reset'; detached, the firmware runs");
      expect(progress.at(-1)).toBe(report.bytesWritten);
      await runsHarness(reader, (b) => board.uart.write(b));
      board.uart.write(Buffer.from('X*'));
      expect(await board.exited).toBe(42);
    } finally {
      await board.stop();
    }
  });

  it('writes a .bin at base 0 and starts it from its vector table (SP, PC, xPSR.T through registers)', async () => {
    const board = await bareBoard();
    try {
      const reader = new Reader((l) => board.uart.on('data', l));
      const image = loadFirmwareImage(harnessElf.replace(/\.elf$/, '.bin'), { base: 0 });
      const report = await gdbOverTcp(`127.0.0.1:${board.gdbPort}`, { reset: { kind: 'vector', address: 0 } }).flash(image);
      expect(report.notes.at(-1)).toMatch(/^SP=0x2[0-9a-f]{7} PC=0x[0-9a-f]{8} loaded from the vector table at 0x00000000; detached/);
      await runsHarness(reader, (b) => board.uart.write(b));
    } finally {
      await board.stop();
    }
  });

  it('fails verification where the board does not keep what is written (the FPGA I/O registers)', async () => {
    const board = await bareBoard();
    try {
      const image = makeImage([{ address: 0x40028000, bytes: new Uint8Array(32).fill(0xa5) }], 'peripherals.bin');
      const error = await gdbOverTcp(`127.0.0.1:${board.gdbPort}`, { reset: { kind: 'monitor', command: 'system_reset' } })
        .flash(image).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(McutrainError);
      expect((error as McutrainError).message).toMatch(/^flash verify failed at 0x40028000: wrote CRC 0x[0-9a-f]{8}, read 0x[0-9a-f]{8} \(GDB server at 127\.0\.0\.1:\d+; 32 bytes from 0x40028000: first difference at 0x40028000 \(wrote 0xa5, read 0x/);
      // Not reset and not detached: the core is still halted at its (empty) reset state.
      await new Promise((r) => setTimeout(r, 200));
      expect(board.child.exitCode).toBe(null);
    } finally {
      await board.stop();
    }
  });
});

describe('the qemu method (flashQemu)', () => {
  it('loads, verifies by read-back and runs the link server, which answers HELLO', async () => {
    const { transport, report, gdb } = await flashQemu(target, linkElf);
    const device = new Device(transport, { timeoutMs: 5000 });
    try {
      expect(gdb).toBeUndefined();
      expect(report).toMatchObject({ method: 'qemu', device: 'emulated mps2-an500 board (QEMU)', verification: { method: 'read-back', ok: true } });
      expect(report.bytesWritten).toBe(loadFirmwareImage(linkElf).segments.reduce((n, s) => n + s.bytes.length, 0));
      expect(report.verification.detail).toMatch(/through QEMU's gdbstub: CRC-32 0x[0-9a-f]{8} matches the ELF/);
      expect((await device.hello()).buildId).toBe('fake-model-build');
    } finally {
      await device.close();
    }
  });

  it('can leave the board halted at its reset vector until the debugger lets it go', async () => {
    const { transport, gdb, gdbPort } = await flashQemu(target, harnessElf, { halted: true });
    try {
      expect(gdb).toBeDefined();
      const flat = flattenImage(loadFirmwareImage(harnessElf));
      const vectors = new DataView(flat.bytes.buffer);
      expect(await gdb!.readRegister(13)).toBe(vectors.getUint32(0, true));
      expect(await gdb!.readRegister(15)).toBe(vectors.getUint32(4, true) & ~1);
      expect(gdbPort).toBeGreaterThan(0);
      const reader = new Reader((l) => transport.onData(l));
      await new Promise((r) => setTimeout(r, 300));
      expect(reader.pending).toBe(0); // halted: no banner yet
      await gdb!.resume(); // 'c': runs on after the debugger hangs up
      await gdb!.close();
      await runsHarness(reader, (b) => transport.write(b));
    } finally {
      await transport.close();
    }
  });

  it('the Flasher interface: QemuFlasher keeps the running board for the caller', async () => {
    const flasher = new QemuFlasher(target);
    const report = await flasher.flash(loadFirmwareImage(harnessElf));
    const transport: Transport = flasher.board!.transport;
    try {
      expect(report.method).toBe('qemu');
      await runsHarness(new Reader((l) => transport.onData(l)), (b) => transport.write(b));
    } finally {
      await transport.close();
    }
  });

  it('fails verification when part of the image cannot be placed in memory, and stops QEMU', async () => {
    const code = loadFirmwareImage(harnessElf).segments;
    const elf = path.join(dir, 'into-peripherals.elf');
    writeFileSync(elf, writeElf32([
      ...code.map((s) => ({ paddr: s.address, bytes: s.bytes })),
      { paddr: 0x40028000, bytes: new Uint8Array(64).fill(0x5a) }, // FPGA I/O registers: QEMU cannot load there
    ], { entry: 0x101 }));
    const before = await qemuCount();
    const error = await flashQemu(target, elf).then(async (board) => { await board.transport.close(); }, (e: unknown) => e);
    expect(error).toBeInstanceOf(McutrainError);
    expect((error as McutrainError).message).toMatch(/^flash verify failed at 0x40028000: wrote CRC 0x[0-9a-f]{8}, read 0x[0-9a-f]{8} \(emulated mps2-an500 board's gdbstub at 127\.0\.0\.1:\d+; 64 bytes/);
    expect(await qemuCount()).toBe(before);
  });

  it('says what is wrong with a missing or non-ELF image', async () => {
    await expect(flashQemu(target, path.join(dir, 'nope.elf'))).rejects.toThrow(/firmware image '.*nope\.elf' does not exist/);
    const bin = harnessElf.replace(/\.elf$/, '.bin');
    await expect(flashQemu(target, bin)).rejects.toThrow(/is a raw binary/);
    await expect(flashQemu({ name: 'host' }, harnessElf)).rejects.toThrow(/cannot be emulated/);
  });
});

/** QEMU processes that are children of this test process. */
async function qemuCount(): Promise<number> {
  const out = await new Promise<string>((resolve) => {
    const ps = spawn('ps', ['-o', 'comm=', '--ppid', String(process.pid)]);
    let text = '';
    ps.stdout.on('data', (c: Buffer) => { text += c.toString(); });
    ps.on('close', () => resolve(text));
  });
  return out.split('\n').filter((l) => l.startsWith('qemu-system')).length;
}
