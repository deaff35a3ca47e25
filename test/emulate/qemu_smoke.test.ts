/**
 * The MPS2 platform (firmware/platform/mps2) on QEMU's emulated boards, built through the mps2
 * Makefile and linker script templates:
 *  - the link server with the fake model on mps2-an500, driven by the TS Device over QemuTransport:
 *    HELLO, INFER of every byte value, PROFILE in instructions, RESET that really reboots the core;
 *  - the platform test harness (firmware/test/mps2_test_main.c) on all four boards: UART bytes
 *    both ways, ticks that count instructions exactly, a read that times out, a float product (the
 *    FPU's; the Cortex-M3's in software), the stack high-water mark, a semihosting exit with a chosen
 *    code, a fault report;
 *  - a model that does not fit fails at link time; missing QEMU or a bad image give clear errors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startQemu, qemuBoardOf, type QemuSession } from '../../src/emulate/qemu.ts';
import { QemuTransport } from '../../src/emulate/qemu_transport.ts';
import { McutrainError } from '../../src/errors.ts';
import { Device } from '../../src/link/device.ts';
import { loadMps2Target, makeFirmware, writeMps2Project, type MakeResult, type Mps2Target } from './mps2_firmware.ts';

const BOARDS = ['mps2-an500', 'mps2-an386', 'mps2-an505', 'mps2-an385'];
const IN_BYTES = 1024;
const HARNESS_STACK_BYTES = 16384;

let dir: string;
let linkElf: string;
const harness = new Map<string, string>();

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-mps2-'));
  const builds: Promise<[string, MakeResult]>[] = [];
  const linkDir = path.join(dir, 'link-mps2-an500');
  writeMps2Project(linkDir, loadMps2Target('mps2-an500'), { linkServer: true });
  builds.push(makeFirmware(linkDir).then((r) => ['link', r]));
  for (const board of BOARDS) {
    const d = path.join(dir, `harness-${board}`);
    // The harness recurses 100 frames deep to test the stack's high-water mark: more than a board image reserves.
    writeMps2Project(d, loadMps2Target(board), { linkServer: false, view: { stackBytes: HARNESS_STACK_BYTES } });
    builds.push(makeFirmware(d, 'mps2_test_main.c').then((r) => [board, r]));
  }
  for (const [what, result] of await Promise.all(builds)) {
    if (!result.ok) throw new Error(`building ${what} failed:\n${result.log}`);
    if (what === 'link') linkElf = result.elf;
    else harness.set(what, result.elf);
  }
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function board(name: string) {
  const target = loadMps2Target(name);
  return { target, qemu: qemuBoardOf(target) };
}

describe('link server on the emulated mps2-an500', () => {
  it('answers HELLO, INFER, PROFILE and RESET over the emulated UART', async () => {
    const transport = await QemuTransport.start({ ...board('mps2-an500').qemu, kernel: linkElf });
    const device = new Device(transport, { timeoutMs: 60_000 }); // QEMU on a loaded machine may answer late
    try {
      const info = await device.hello();
      expect(info).toMatchObject({
        protocolVersion: 3, modelHash: '0123456789abcdef', buildId: 'fake-model-build', tickUnit: 'instructions',
        maxRequestBytes: 600, opCount: 2,
      });

      // Every byte value crosses the UART both ways (the reply is input + 1, saturating, as int8).
      const input = Uint8Array.from({ length: IN_BYTES }, (_, i) => (i * 7) & 0xff);
      const expected = [...Array.from(new Int8Array(input.buffer), (v) => (v === 127 ? 127 : v + 1) & 0xff), 1, 0, 0, 0];
      expect(Array.from(await device.infer(input))).toEqual(expected);

      const profile = await device.profile();
      expect(profile.tickUnit).toBe('instructions');
      // The ADD loop runs 1024 iterations of a few instructions each.
      expect(profile.opTicks[0]).toBeGreaterThan(3 * IN_BYTES);
      expect(profile.opTicks[0]).toBeLessThan(40 * IN_BYTES);
      expect(profile.totalTicks).toBeGreaterThanOrEqual(profile.opTicks[0] + profile.opTicks[1]);
      expect(profile.stackHighWaterBytes).toBeGreaterThan(64);
      expect(profile.stackHighWaterBytes).toBeLessThan(board('mps2-an500').target.stackBytes);

      // RESET reboots the core: the model's invocation counter (in .bss) starts again from zero.
      expect((await device.infer(input))[IN_BYTES]).toBe(2);
      await device.reset();
      expect((await device.infer(input))[IN_BYTES]).toBe(1);
      // (No assertion on device.stats.resends: on a loaded 2-core machine QEMU can be slow enough for
      // a resend, which the protocol answers from its remembered reply; the counters above prove the
      // model ran exactly as often as asked.)
    } finally {
      await device.close();
    }
    expect(await transport.session.exited).toEqual({ code: 0, signal: null });
  });
});

/** Talks to firmware/test/mps2_test_main.c. */
class HarnessClient {
  private buffered = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private ended = false;

  constructor(readonly session: QemuSession) {
    session.stream.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake?.();
    });
    session.stream.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  async read(n: number, timeoutMs = 60_000): Promise<Buffer> { // only a hang reaches it
    const deadline = Date.now() + timeoutMs;
    while (this.buffered.length < n) {
      if (this.ended) throw new Error(`UART closed after ${this.buffered.length} of ${n} bytes; QEMU said:\n${this.session.output}`);
      if (Date.now() > deadline) throw new Error(`timed out with ${this.buffered.length} of ${n} bytes`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 100);
      });
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  send(tag: string, ...words: number[]): void {
    const b = Buffer.alloc(1 + 4 * words.length);
    b.write(tag, 0, 'latin1');
    words.forEach((w, i) => b.writeUInt32LE(w >>> 0, 1 + 4 * i));
    this.session.stream.write(b);
  }

  async word(tag: string): Promise<number> {
    const reply = await this.read(5);
    expect(String.fromCharCode(reply[0])).toBe(tag);
    return reply.readUInt32LE(1);
  }
}

const BANNER = 'mcutrain mps2 test harness\n';

describe.each(BOARDS)('platform harness on the emulated %s', (name) => {
  it('moves bytes both ways, counts instructions, times out, multiplies floats and exits via semihosting', async () => {
    const session = await startQemu({ ...board(name).qemu, kernel: harness.get(name)! });
    try {
      const h = new HarnessClient(session);
      expect((await h.read(BANNER.length)).toString()).toBe(BANNER);

      const data = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + (i >> 8)) & 0xff));
      h.send('E', data.length);
      session.stream.write(data);
      expect((await h.read(data.length)).equals(data)).toBe(true);

      h.send('U');
      expect((await h.read('Uinstructions\0'.length)).toString()).toBe('Uinstructions\0');
      // SUBS + BNE per iteration: the tick delta is 2k plus a fixed overhead (the two tick reads, and
      // the SysTick interrupts that fall into the measurement: ~10 instructions per 10 ms of virtual time).
      h.send('T', 1000);
      const overhead = (await h.word('T')) - 2000;
      expect(overhead).toBeGreaterThanOrEqual(0);
      expect(overhead).toBeLessThan(100);
      h.send('T', 1_000_000);
      const big = await h.word('T');
      expect(big - 2_000_000).toBeGreaterThanOrEqual(overhead);
      expect(big - 2_000_000).toBeLessThan(overhead + 200);

      // A read with a timeout, while nothing arrives: waits in WFI, in (virtual ~ real) time.
      const t0 = Date.now();
      h.send('W', 300);
      expect((await h.read(1)).toString()).toBe('W');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250); // no upper bound: a loaded machine may answer late

      const f = Buffer.alloc(8);
      f.writeFloatLE(1.5, 0);
      f.writeFloatLE(-2.25, 4);
      h.send('P', f.readUInt32LE(0), f.readUInt32LE(4));
      const product = Buffer.alloc(4);
      product.writeUInt32LE(await h.word('P'));
      expect(product.readFloatLE(0)).toBe(-3.375);

      // The stack high-water mark follows the deepest use: 100 levels of a 64-byte frame and more.
      h.send('S');
      const shallow = await h.word('S');
      expect(shallow).toBeGreaterThan(32);
      expect(shallow).toBeLessThan(1024);
      h.send('O', 100);
      await h.word('O');
      h.send('S');
      const deep = await h.word('S');
      expect(deep).toBeGreaterThan(shallow + 100 * 64);
      expect(deep).toBeLessThan(HARNESS_STACK_BYTES);

      h.send('X');
      session.stream.write(Buffer.from([42]));
      expect(await session.exited).toEqual({ code: 42, signal: null });
    } finally {
      await session.stop();
    }
  });
});

describe('faults and failures', () => {
  it('a fault ends the emulation with a report and exit code 100 + exception number', async () => {
    const transport = await QemuTransport.start({ ...board('mps2-an500').qemu, kernel: harness.get('mps2-an500')! });
    const closed = new Promise<McutrainError>((resolve) => transport.onClose(resolve));
    transport.onData(() => undefined);
    await transport.write(Buffer.from('F'));
    const error = await closed;
    expect(error.message).toMatch(/exit code 106/);
    expect(error.message).toMatch(/UsageFault at pc=0x[0-9a-f]{8} .*cfsr=0x00010000/); // UNDEFINSTR
    await expect(transport.close()).rejects.toBe(error);
  });

  it('a stack overflow on the Armv8-M board stops at the stack limit with a report', async () => {
    const session = await startQemu({ ...board('mps2-an505').qemu, kernel: harness.get('mps2-an505')! });
    try {
      const h = new HarnessClient(session);
      await h.read(BANNER.length);
      h.send('O', 1_000_000);
      expect(await session.exited).toEqual({ code: 106, signal: null });
      expect(session.output).toMatch(/UsageFault with sp=0x[0-9a-f]{8} \(stack overflow\) cfsr=0x00100000/); // STKOF
    } finally {
      await session.stop();
    }
  });

  it('an image that does not fit fails at link time', async () => {
    const t: Mps2Target = loadMps2Target('mps2-an500');
    // Stack plus .bss (which holds the model's arena) larger than the SRAM; code larger than the Flash.
    const ram = path.join(dir, 'too-small-ram');
    writeMps2Project(ram, t, { linkServer: false, view: { ramLength: 4096, stackBytes: 4096 } });
    const flash = path.join(dir, 'too-small-flash');
    writeMps2Project(flash, t, { linkServer: false, view: { flashLength: 1024 } });
    const [r, f] = await Promise.all([makeFirmware(ram, 'mps2_test_main.c'), makeFirmware(flash, 'mps2_test_main.c')]);
    expect(r.ok).toBe(false);
    expect(r.log).toMatch(/region `RAM' overflowed by \d+ bytes/);
    expect(f.ok).toBe(false);
    expect(f.log).toMatch(/region `FLASH' overflowed by \d+ bytes/);
  });

  it('says what is wrong when QEMU is missing, fails to start, or the image is missing', async () => {
    const missing = await startQemu({ ...board('mps2-an500').qemu, kernel: linkElf, binary: '/nonexistent/qemu-system-arm' })
      .then(() => undefined, (e: unknown) => e);
    expect(missing).toBeInstanceOf(McutrainError);
    expect((missing as McutrainError).message).toMatch(/not installed/);
    expect((missing as McutrainError).hint).toMatch(/apt-get install qemu-system-arm/);

    const bad = await startQemu({ ...board('mps2-an500').qemu, extraArgs: ['-no-such-option'], kernel: linkElf })
      .then(() => undefined, (e: unknown) => e);
    expect(bad).toBeInstanceOf(McutrainError);
    expect((bad as McutrainError).message).toMatch(/exited with exit code 1 before the board started.*\n.*no-such-option/s);

    const none = await startQemu({ ...board('mps2-an500').qemu, kernel: path.join(dir, 'nope.elf') }).then(() => undefined, (e: unknown) => e);
    expect((none as McutrainError).message).toMatch(/does not exist/);
  });
});
