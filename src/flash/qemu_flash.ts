/**
 * The `qemu` flash method: the emulated board loads firmware.elf itself (`-kernel`), halted, with
 * its gdbstub open; the image is then read back through the gdbstub with the same RSP client and the
 * same CRC check as a real board's, before the core is let go. So an emulated run starts only from
 * an image that is verifiably in the board's memory.
 */
import net from 'node:net';
import { McutrainError } from '../errors.ts';
import { connectWhenListening, describeQemuExit, qemuBoardOf } from '../emulate/qemu.ts';
import { QemuTransport } from '../emulate/qemu_transport.ts';
import { startTwin, stopTwin, twinFiles } from '../emulate/twin.ts';
import { openTcp, StreamTransport } from './byte_stream.ts';
import { hex8 } from '../elf/elf.ts';
import { checkReadBack, imageCrc32, progressOf, type Flasher, type FlashReport, type ProgressCallback } from './flasher.ts';
import { GdbRemote } from './gdb_rsp.ts';
import { imageBytes, loadFirmwareImage, type FirmwareImage } from './image.ts';

export interface QemuFlashOptions {
  /** Leave the core halted at its reset vector (resume with `gdb.detach()`); default: let it run. */
  halted?: boolean;
  /** qemu-system-arm executable (default as in src/emulate/qemu.ts). */
  binary?: string;
  progress?: ProgressCallback;
  timeoutMs?: number;
}

export interface QemuFlashResult {
  /** The emulated board's UART0, for the link (src/link/device.ts). Closing it ends QEMU. */
  transport: QemuTransport;
  report: FlashReport;
  /** The gdbstub's port on 127.0.0.1. */
  gdbPort: number;
  /** Still attached when `halted`; undefined once the firmware runs. */
  gdb?: GdbRemote;
}

/**
 * Starts the emulated `target` on `elfPath`, verifies the loaded image through the gdbstub and
 * returns the running (or halted) board. On any failure QEMU is stopped and a McutrainError thrown.
 */
export async function flashQemu(target: { name: string; qemu?: unknown }, elfPath: string, opts: QemuFlashOptions = {}): Promise<QemuFlashResult> {
  const board = qemuBoardOf(target);
  const image = loadFirmwareImage(elfPath);
  if (image.entry === undefined) throw new McutrainError(`the qemu method loads an ELF file; '${elfPath}' is not one`, 'flash firmware.elf');
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    const gdbPort = await freePort();
    const transport = await QemuTransport.start({ ...board, kernel: elfPath, binary: opts.binary, gdbPort, halted: true });
    const session = transport.session;
    let exit: string | undefined;
    void session.exited.then((e) => { exit = describeQemuExit(e); });
    let gdb: GdbRemote | undefined;
    try {
      const description = `emulated ${board.machine} board's gdbstub`;
      const stream = await openTcp('127.0.0.1', gdbPort, description, {
        retryMs: 10_000,
        abandon: () => (exit ? `QEMU exited (${exit}) before its gdbstub listened${session.output.trim() ? `: ${session.output.trim()}` : ''}` : undefined),
      });
      gdb = await GdbRemote.connect(stream, { timeoutMs: opts.timeoutMs });
      const verification = await verifyByReadBack(gdb, image, opts.progress);
      let notes: string[];
      if (opts.halted) {
        notes = [`loaded by QEMU (-kernel); halted at the reset vector, gdbstub on 127.0.0.1:${gdbPort}`];
      } else {
        await gdb.detach();
        await gdb.close();
        gdb = undefined;
        notes = ['loaded by QEMU (-kernel); started'];
      }
      const report: FlashReport = {
        method: 'qemu',
        device: `emulated ${board.machine} board (QEMU)`,
        bytesWritten: imageBytes(image),
        segments: image.segments.length,
        elapsedMs: Date.now() - started,
        verification,
        notes,
      };
      return { transport, report, gdbPort, gdb };
    } catch (error) {
      await gdb?.close().catch(() => undefined);
      await session.stop();
      // Another process took the port between freePort() and QEMU binding it: try another.
      if (attempt < 3 && /bind|address already in use|gdbstub/i.test(session.output) && !(error instanceof McutrainError && /verify/.test(error.message))) continue;
      throw error;
    }
  }
}

/** The `qemu` method behind the Flasher interface: `image.source` must be the ELF file QEMU loads. */
export class QemuFlasher implements Flasher {
  readonly name = 'qemu';
  /** The board, once flashed: the caller owns it (close its transport to end QEMU). */
  board: QemuFlashResult | undefined;

  constructor(private readonly target: { name: string; qemu?: unknown }, private readonly opts: Omit<QemuFlashOptions, 'progress'> = {}) {}

  async flash(image: FirmwareImage, progress?: ProgressCallback): Promise<FlashReport> {
    this.board = await flashQemu(this.target, image.source, { ...this.opts, progress });
    const loaded = loadFirmwareImage(image.source);
    if (imageCrc32(loaded) !== imageCrc32(image)) {
      await this.board.transport.close().catch(() => undefined);
      this.board = undefined;
      throw new McutrainError(`the image to flash is not the contents of ${image.source}, which is what QEMU loads`);
    }
    return this.board.report;
  }
}

/**
 * The `qemu` method for a project: the image goes into the project's emulated twin
 * (src/emulate/twin.ts), started afresh on it, halted, read back through its gdbstub and then let go;
 * the twin runs on after the command, as a flashed board does.
 */
export class TwinFlasher implements Flasher {
  readonly name = 'qemu';

  constructor(private readonly projectDir: string, private readonly target: { name: string; qemu?: unknown },
    private readonly opts: Pick<QemuFlashOptions, 'binary' | 'timeoutMs'> = {}) {}

  async flash(image: FirmwareImage, progress?: ProgressCallback): Promise<FlashReport> {
    const board = qemuBoardOf(this.target);
    if (image.entry === undefined) throw new McutrainError(`the qemu method loads an ELF file; '${image.source}' is not one`, 'flash firmware.elf');
    const started = Date.now();
    const twin = await startTwin(this.projectDir, board, { image: image.source, halted: true, binary: this.opts.binary });
    let gdb: GdbRemote | undefined;
    try {
      const description = `emulated ${board.machine} board's gdbstub`;
      const socket = await connectWhenListening(twinFiles(this.projectDir).gdb, () => false, 10_000);
      gdb = await GdbRemote.connect(new StreamTransport(socket, description, async () => { socket.destroy(); }), { timeoutMs: this.opts.timeoutMs });
      const verification = await verifyByReadBack(gdb, image, progress);
      await gdb.detach();
      await gdb.close();
      return {
        method: 'qemu',
        device: `emulated ${board.machine} board (QEMU pid ${twin.pid})`,
        bytesWritten: imageBytes(image),
        segments: image.segments.length,
        elapsedMs: Date.now() - started,
        verification,
        notes: ['loaded by QEMU (-kernel); started',
          `the emulated board keeps running, and keeps what it learns, until mcutrain reset ${this.projectDir} or mcutrain stop ${this.projectDir}`],
      };
    } catch (error) {
      await gdb?.close().catch(() => undefined);
      await stopTwin(this.projectDir);
      throw error;
    }
  }
}

async function verifyByReadBack(gdb: GdbRemote, image: FirmwareImage, progress?: ProgressCallback) {
  const verified = progressOf(progress, 'verify', imageBytes(image));
  for (const s of image.segments) checkReadBack(s.address, s.bytes, await gdb.readMemory(s.address, s.bytes.length, verified), gdb.description);
  const crc = imageCrc32(image);
  return {
    method: 'read-back' as const,
    crc32: crc,
    ok: true as const,
    detail: `read back all ${imageBytes(image)} bytes of the ${image.segments.length} segment(s) through QEMU's gdbstub: CRC-32 0x${hex8(crc)} matches the ELF`,
  };
}

/** A TCP port on 127.0.0.1 that nothing listens on (a moment ago). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}
