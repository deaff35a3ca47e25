/**
 * The stm32-uart flash method against a simulated AN3155 bootloader (fake_an3155_bootloader.ts) on
 * the other end of a pseudo-terminal pair (socat), both ends opened through `serialport` at 8E1 as
 * with a USB serial adapter: sync, Get, Get ID, sector erase, 256-byte writes, read-back verify, Go;
 * and a NACK, a board that never answers, a flash that was not erased, a corrupted read.
 */
import { SerialPort } from 'serialport';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { McutrainError } from '../../src/errors.ts';
import { makeImage, type FirmwareImage } from '../../src/flash/image.ts';
import { alignedBlocks, flashSectors, stm32OverSerial, type Stm32FlashOptions } from '../../src/flash/stm32_uart_bootloader.ts';
import { FakeAn3155Bootloader, type FakeBootloaderOptions } from './fake_an3155_bootloader.ts';
import { ptyPair, type PtyPair } from './pty_pair.ts';

let pty: PtyPair;
let board: SerialPort | undefined;

beforeEach(async () => {
  pty = await ptyPair();
});

afterEach(async () => {
  if (board?.isOpen) await new Promise<void>((r) => board!.close(() => r()));
  board = undefined;
  await pty.close();
});

/** Puts a simulated bootloader on the far end of the pty pair. */
async function bootloader(opts: FakeBootloaderOptions = {}): Promise<FakeAn3155Bootloader> {
  const fake = new FakeAn3155Bootloader(opts);
  board = new SerialPort({ path: pty.b, baudRate: 115200, parity: 'even', autoOpen: false });
  await new Promise<void>((resolve, reject) => board!.open((e) => (e ? reject(e) : resolve())));
  board.on('data', (chunk: Buffer) => fake.receive(chunk, board!));
  return fake;
}

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => ((i * 73) ^ (i >> 8) ^ seed) & 0xff);
}

/** Code at the start of Flash (sectors 0 and 1), constants in sector 4 (ending unaligned), a RAM block. */
function image(): FirmwareImage {
  return makeImage([
    { address: 0x08000000, bytes: bytes(40_000, 1) },
    { address: 0x08020010, bytes: bytes(1001, 2) },
    { address: 0x20001000, bytes: bytes(300, 3) },
  ], 'firmware.elf');
}

// Replies come within milliseconds; the margin is for a loaded test machine.
const flasher = (opts: Omit<Stm32FlashOptions, 'connect'> = {}) => stm32OverSerial(pty.a, { timeoutMs: 3000, ...opts });

describe('stm32-uart flash method over a pty pair', () => {
  it('syncs, erases only the sectors the image covers, writes, verifies by read-back and jumps to it', async () => {
    const fake = await bootloader();
    fake.flash.fill(0x00); // an old program everywhere
    const phases = new Map<string, number>();
    const report = await flasher().flash(image(), (p) => phases.set(p.phase, p.done));

    expect(fake.events.filter((e) => e.startsWith('erase'))).toEqual(['erase 0', 'erase 1', 'erase 4']);
    expect(Array.from(fake.flash.subarray(0, 40_000))).toEqual(Array.from(bytes(40_000, 1)));
    expect(Array.from(fake.flash.subarray(0x20010, 0x20010 + 1001))).toEqual(Array.from(bytes(1001, 2)));
    expect(fake.flash[40_000]).toBe(0xff); // erased by the sector erase, not written
    expect(fake.flash[0x10000]).toBe(0x00); // sector 2: not erased
    expect(fake.flash[0x20010 + 1001]).toBe(0xff); // the padding to a word keeps erased bytes erased
    expect(Array.from(fake.sram.subarray(0x1000, 0x1000 + 300))).toEqual(Array.from(bytes(300, 3)));
    expect(fake.events.filter((e) => e.startsWith('write')).every((e) => Number(e.split(' ')[2]) <= 256)).toBe(true);
    expect(fake.goAddress).toBe(0x08000000);

    expect(report).toMatchObject({
      method: 'stm32-uart',
      device: `STM32 bootloader on STM32 bootloader port on ${pty.a} at 115200 baud`,
      bytesWritten: 41_301,
      segments: 3,
      verification: { method: 'read-back', ok: true },
    });
    expect(report.notes).toEqual(['bootloader v3.1 (synced), product ID 0x449 (STM32F74x/F75x)', 'erased sector(s) 0, 1, 4', 'started with Go 0x08000000']);
    expect(phases.get('erase')).toBe(2 * 32768 + 131072);
    expect(phases.get('write')).toBe(41_301);
    expect(phases.get('verify')).toBe(41_301);
  });

  it('a part with the legacy Erase command, and mass erase', async () => {
    const fake = await bootloader({ legacyErase: true });
    const report = await flasher({ erase: 'mass', go: false }).flash(makeImage([{ address: 0x08000000, bytes: bytes(512, 4) }], 'small.bin'));
    expect(fake.events[0]).toBe('erase 0,1,2,3,4,5,6,7');
    expect(report.notes.slice(1)).toEqual(['mass-erased the Flash', 'left in the bootloader']);
    expect(fake.goAddress).toBeUndefined();
  });

  it('a bootloader still synced from an earlier session answers the second sync byte with NACK', async () => {
    const fake = await bootloader();
    const small = makeImage([{ address: 0x08000000, bytes: bytes(64, 8) }], 'small.bin');
    await flasher({ go: false }).flash(small);
    // It now waits for a command: the first 0x7F goes unanswered, the second makes a bad complement.
    const again = await flasher({ go: false }).flash(small);
    expect(again.notes[0]).toMatch(/^bootloader v3\.1 \(already synced\)/);
    expect(fake.events).toContain('nack complement of 0x7f');
  });

  it('Flash that was not erased fails verification: bits can only be cleared', async () => {
    const fake = await bootloader();
    fake.flash.fill(0xf0, 0, 0x8000);
    const error = await flasher({ erase: 'none' }).flash(image()).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(McutrainError);
    const first = bytes(40_000, 1).findIndex((b) => (b & 0xf0) !== b);
    expect((error as McutrainError).message).toMatch(new RegExp(
      `^flash verify failed at 0x${(0x08000000 + first).toString(16).padStart(8, '0')}: wrote CRC 0x[0-9a-f]{8}, read 0x[0-9a-f]{8} \\(STM32 bootloader on .*first difference`));
    expect(fake.goAddress).toBeUndefined(); // not started
  });

  it('a corrupted read-back fails verification', async () => {
    const fake = await bootloader({ corruptReadAt: 0x08020010 + 500 });
    const error = await flasher().flash(image()).then(() => undefined, (e: unknown) => e);
    expect((error as McutrainError).message).toMatch(/^flash verify failed at 0x08020204: /);
    expect(fake.goAddress).toBeUndefined();
  });

  it('a NACKed command names the command and the likely cause', async () => {
    await bootloader({ nack: [0x31] });
    const error = await flasher().flash(image()).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(McutrainError);
    expect((error as McutrainError).message).toBe(`the STM32 bootloader on STM32 bootloader port on ${pty.a} at 115200 baud refused the Write Memory command (NACK)`);
    expect((error as McutrainError).hint).toMatch(/read-protected/);
  });

  it('an address outside the chip\'s memory is NACKed', async () => {
    await bootloader();
    const error = await flasher({ erase: 'none' }).flash(makeImage([{ address: 0x60000000, bytes: bytes(16, 5) }], 'elsewhere.bin')).then(() => undefined, (e: unknown) => e);
    expect((error as McutrainError).message).toMatch(/refused the address 0x60000000 for Write Memory \(NACK\)$/);
  });

  it('an image larger than the chip\'s Flash is refused before anything is erased', async () => {
    const fake = await bootloader();
    const error = await flasher().flash(makeImage([{ address: 0x080f0000, bytes: bytes(0x20000, 6) }], 'big.elf')).then(() => undefined, (e: unknown) => e);
    expect((error as McutrainError).message).toBe("big.elf runs past the end of the STM32F74x/F75x's Flash (0x08100000)");
    expect(fake.events).toEqual([]);
  });

  it('a board that never answers: a timeout naming the port', async () => {
    await bootloader({ silent: true });
    const error = await flasher({ timeoutMs: 200 }).flash(image()).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(McutrainError);
    expect((error as McutrainError).message).toBe(`no answer from the STM32 bootloader on STM32 bootloader port on ${pty.a} at 115200 baud to the sync byte 0x7F (3 tries, 200 ms each)`);
    expect((error as McutrainError).hint).toMatch(/BOOT0/);
  });

  it('a port that does not exist', async () => {
    const error = await stm32OverSerial('/dev/nonexistent-tty').flash(image()).then(() => undefined, (e: unknown) => e);
    expect((error as McutrainError).message).toBe('cannot open STM32 bootloader port on /dev/nonexistent-tty: no such port');
  });
});

describe('the simulated bootloader itself', () => {
  const run = (fake: FakeAn3155Bootloader, ...bytes: number[]) => {
    const out: number[] = [];
    fake.receive(Uint8Array.from(bytes), { write: (b: Uint8Array) => out.push(...b) });
    return out;
  };

  it('NACKs a bad complement, a bad address checksum and a bad data checksum', () => {
    const fake = new FakeAn3155Bootloader();
    expect(run(fake, 0x7f)).toEqual([0x79]);
    expect(run(fake, 0x31, 0xcd)).toEqual([0x1f]); // complement of 0x31 is 0xce
    expect(run(fake, 0x31, 0xce, 0x08, 0x00, 0x00, 0x00, 0x09)).toEqual([0x79, 0x1f]); // checksum should be 0x08
    expect(run(fake, 0x31, 0xce, 0x08, 0x00, 0x00, 0x00, 0x08, 0x03, 1, 2, 3, 4, 0x00)).toEqual([0x79, 0x79, 0x1f]); // should be 0x07
    expect(run(fake, 0x31, 0xce, 0x08, 0x00, 0x00, 0x00, 0x08, 0x03, 1, 2, 3, 4, 0x07)).toEqual([0x79, 0x79, 0x79]);
    expect(Array.from(fake.flash.subarray(0, 4))).toEqual([1, 2, 3, 4]);
    expect(run(fake, 0x11, 0xee, 0x08, 0x00, 0x00, 0x00, 0x08, 0x03, 0xfc)).toEqual([0x79, 0x79, 0x79, 1, 2, 3, 4]);
  });
});

describe('helpers', () => {
  it('knows the STM32F7 sector layout', () => {
    const f746 = flashSectors(0x449)!;
    expect(f746.sectors.map((s) => s.length / 1024)).toEqual([32, 32, 32, 32, 128, 256, 256, 256]);
    expect(f746.sectors[5].start).toBe(0x08040000);
    expect(flashSectors(0x451)!.sectors.at(-1)!.start + flashSectors(0x451)!.sectors.at(-1)!.length).toBe(0x08200000);
    expect(flashSectors(0x123)).toBeUndefined();
  });

  it('splits writes into word-aligned blocks of at most 256 bytes', () => {
    const blocks = alignedBlocks(0x08000002, bytes(600, 7));
    expect(blocks.map((b) => [b.address, b.bytes.length, b.payload])).toEqual([[0x08000000, 256, 254], [0x08000100, 256, 256], [0x08000200, 92, 90]]);
    expect(blocks[0].bytes[0]).toBe(0xff);
    expect(blocks[0].bytes[2]).toBe(bytes(600, 7)[0]);
  });
});
