/**
 * An emulated board as a link transport (src/link/transport.ts): the UART0 stream of a QEMU session.
 * When QEMU ends on its own (the firmware faulted or exited, QEMU crashed) the error carries its
 * exit status and output, which includes the firmware's fault report.
 */
import { McutrainError } from '../errors.ts';
import { TransportEvents, type Transport } from '../link/transport.ts';
import { describeQemuExit, startQemu, type QemuConnection, type QemuExit, type QemuOptions, type QemuSession } from './qemu.ts';

export class QemuTransport<S extends QemuConnection = QemuSession> implements Transport {
  private readonly events = new TransportEvents();
  private closing = false;
  private deathError: McutrainError | undefined;

  /** `end` ends the connection (and, for a private QEMU, QEMU itself). */
  constructor(readonly session: S, readonly description: string, private readonly end: () => Promise<unknown>) {
    session.stream.on('data', (chunk: Buffer) => {
      const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      this.events.data(bytes);
    });
    const died = (what: () => Promise<string>) => {
      if (this.closing || this.deathError) return;
      void what().then((message) => {
        if (this.closing || this.deathError) return;
        this.deathError = new McutrainError(message,
          'the firmware stopped the emulation: a fault report above names the exception and the code address (see firmware.map)');
        this.events.died(this.deathError);
      });
    };
    session.stream.on('close', () => died(async () => {
      // Its UART closes when QEMU exits; give the exit a moment to be seen, so the message says why.
      const exit = await session.exitWithin(1000);
      return exit ? this.exitMessage(exit) : `${this.description} closed its UART`;
    }));
  }

  /** A private QEMU on `opts.kernel`, which ends when the transport is closed. */
  static async start(opts: QemuOptions): Promise<QemuTransport> {
    const session = await startQemu(opts);
    return new QemuTransport(session, `emulated ${opts.machine} board (QEMU, ${opts.kernel})`, () => session.stop());
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.deathError) return Promise.reject(this.deathError);
    if (this.closing) return Promise.reject(new McutrainError(`${this.description} is closed`));
    return new Promise((resolve, reject) => {
      this.session.stream.write(bytes, (error) => {
        if (error) reject(this.deathError ?? new McutrainError(`cannot write to ${this.description}: ${error.message}`));
        else resolve();
      });
    });
  }

  onData(listener: (chunk: Uint8Array) => void): void {
    this.events.onData(listener);
  }

  onClose(listener: (error: McutrainError) => void): void {
    this.events.onClose(listener);
  }

  /** Ends the connection (a private QEMU with it). Rejects if QEMU had already ended on its own. */
  async close(): Promise<void> {
    const died = this.deathError;
    this.closing = true;
    await this.end(); // also after a death: the twin's lock is released, a private QEMU that only closed its UART is ended
    if (died) throw died;
  }

  private exitMessage(exit: QemuExit): string {
    const output = this.session.output.trim();
    return `${this.description} stopped (QEMU ${describeQemuExit(exit)})${output ? `; its output:\n${output}` : ', without a message'}`;
  }
}
