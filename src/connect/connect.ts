/**
 * Opening the device that runs a generated project: the host build (spawned, over its stdin/stdout),
 * a board on a serial port, or, with no port, the board's emulated twin (QEMU, over the emulated UART).
 * An image started here must be the one `mcutrain build` recorded, and every path ends in the HELLO
 * check against the project's mcutrain.json, so a host never drives firmware built from another
 * model or another build.
 */
import path from 'node:path';
import { McutrainError } from '../errors.ts';
import type { ProjectManifest } from '../project/manifest.ts';
import { Device, type DeviceOptions } from '../link/device.ts';
import { HostTransport } from '../link/host_transport.ts';
import { SerialTransport } from '../link/serial_transport.ts';
import type { Transport } from '../link/transport.ts';
import { QemuTransport } from '../emulate/qemu_transport.ts';
import { qemuBoardOf, type QemuBoard } from '../emulate/qemu.ts';
import { connectTwin, startTwin, twinStatus, withStartLock, type TwinState, type TwinTransport } from '../emulate/twin.ts';
import { checkBuiltImage, imageFile, recordedImage } from '../build/build_project.ts';
import { loadTarget } from '../targets/target.ts';

export interface OpenOptions extends DeviceOptions {
  /** Run the ASan/UBSan build of a host project (built with `mcutrain build --sanitize`). */
  sanitized?: boolean;
  /** A real board on this serial port (already flashed); without it a board target runs on its emulated twin. */
  port?: string;
  baud?: number;
  /**
   * Run a board without a port on its managed emulated twin, which outlives the device and keeps its
   * state like a board (src/emulate/twin.ts), as the CLI does. Default: a private QEMU that ends
   * when the device is closed.
   */
  managedTwin?: boolean;
  /** Told what happened on the way that the user should know (e.g. an emulated board was started). */
  notify?: (message: string) => void;
}

export async function openProjectDevice(dir: string, manifest: ProjectManifest, opts: OpenOptions = {}): Promise<Device> {
  const device = new Device(await openTransport(dir, manifest, opts), opts);
  try {
    const hello = await device.hello();
    const expectedHash = manifest.model.sha256.slice(0, 16);
    if (hello.modelHash !== expectedHash || hello.buildId !== manifest.buildId) {
      throw new McutrainError(
        `${device.description} runs model ${hello.modelHash} (build ${hello.buildId}), but '${dir}' is model ${expectedHash} (build ${manifest.buildId})`,
        `rebuild it: mcutrain build ${dir}`);
    }
  } catch (e) {
    await device.close().catch(() => undefined);
    throw e;
  }
  return device;
}

async function openTransport(dir: string, manifest: ProjectManifest, opts: OpenOptions): Promise<Transport> {
  const target = loadTarget(manifest.target, dir);
  if (opts.port && target.kind === 'mcu') return SerialTransport.open(opts.port, { baud: opts.baud ?? target.uart?.baud });
  if (target.kind === 'host') {
    if (opts.port) throw new McutrainError(`project '${dir}' targets the host; --port is for boards`, 'drop --port, or compile for a board');
    const file = imageFile('host', opts.sanitized);
    checkBuiltImage(dir, manifest, file, false); // a host engine built by hand (make) has no record; one that has must match
    return HostTransport.start(path.join(dir, file));
  }
  const board = qemuBoardOf(target);
  if (opts.managedTwin) return openTwin(dir, manifest, board, opts.notify);
  checkBuiltImage(dir, manifest, 'firmware.elf');
  return QemuTransport.start({ ...board, kernel: path.join(dir, 'firmware.elf') });
}

/**
 * The project's running twin; with none running, one started on the project's firmware.elf (as if
 * flashed), and the user told. A twin running an image other than the one built now is refused, as
 * a board still holding old firmware would be.
 */
export async function openTwin(dir: string, manifest: ProjectManifest, board: QemuBoard, notify: (message: string) => void = () => undefined): Promise<TwinTransport> {
  const running = await withStartLock(dir, () => runningTwin(dir, manifest, board, notify));
  return connectTwin(dir, running);
}

/** The project's running twin, started now (and the user told) if none runs. */
async function runningTwin(dir: string, manifest: ProjectManifest, board: QemuBoard, notify: (message: string) => void): Promise<TwinState> {
  const status = twinStatus(dir);
  let running = status.running;
  if (!running) {
    checkBuiltImage(dir, manifest, 'firmware.elf');
    running = await startTwin(dir, board, { image: path.join(dir, 'firmware.elf') });
    notify(`${status.died ? `the emulated ${board.machine} board of '${dir}' had stopped: ${status.died}\n` : ''}` +
      `started the emulated ${board.machine} board of '${dir}' with its firmware.elf (QEMU pid ${running.pid}); ` +
      `like a board, it keeps its state until mcutrain reset ${dir} or mcutrain stop ${dir}`);
  } else if (running.imageSha256 !== recordedImage(dir, manifest, 'firmware.elf')) {
    throw new McutrainError(`the emulated ${board.machine} board of '${dir}' runs an image other than its firmware.elf built now ` +
      `(SHA-256 ${running.imageSha256.slice(0, 16)}; built ${(recordedImage(dir, manifest, 'firmware.elf') ?? 'none recorded').slice(0, 16)})`,
      `flash the new one: mcutrain flash ${dir}`);
  }
  return running;
}
