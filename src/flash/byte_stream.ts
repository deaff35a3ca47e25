/**
 * Byte streams the flashers talk over, as link transports (src/link/transport.ts): a TCP connection
 * (a GDB server: OpenOCD, pyOCD, J-Link, QEMU's gdbstub) and a serial port with even parity (an
 * STM32's bootloader UART) through the `serialport` package.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { McutrainError } from '../errors.ts';
import { TransportEvents, type Transport } from '../link/transport.ts';

/** A Transport over any node Duplex (a socket, a serial port). */
export class StreamTransport implements Transport {
  private readonly events = new TransportEvents();
  private closing = false;
  private deathError: McutrainError | undefined;

  constructor(private readonly stream: Duplex, readonly description: string, private readonly end: () => Promise<void>, readonly bytesPerSecond?: number) {
    stream.on('data', (chunk: Buffer) => {
      const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      this.events.data(bytes);
    });
    let lastError = '';
    stream.on('error', (error: Error) => { lastError = error.message; });
    stream.on('close', () => {
      if (this.closing || this.deathError) return;
      this.deathError = new McutrainError(`${description} closed the connection${lastError ? ` (${lastError})` : ''}`);
      this.events.died(this.deathError);
    });
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.deathError) return Promise.reject(this.deathError);
    if (this.closing) return Promise.reject(new McutrainError(`${this.description} is closed`));
    return new Promise((resolve, reject) => {
      this.stream.write(bytes, (error) => {
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

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.end();
  }
}

/** Parses `host:port` (or `:port`, or a bare port) as given to `--gdb`. */
export function parseHostPort(text: string, defaultHost = '127.0.0.1'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*))?:?(\d+)$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port > 0 && port < 65536)) {
    throw new McutrainError(`'${text}' is not host:port`, 'e.g. --gdb localhost:3333 (OpenOCD), :2331 (J-Link), localhost:1234 (QEMU -s)');
  }
  return { host: m[1] ?? (m[2] || defaultHost), port };
}

export interface TcpOptions {
  /** How long to keep trying while the port refuses connections (a server still starting). Default 0: one try. */
  retryMs?: number;
  /** Stop retrying early when this says the server is gone (e.g. its process exited). */
  abandon?: () => string | undefined;
  timeoutMs?: number;
}

/** Connects to a TCP server; clear errors for a refused connection, an unknown host and a timeout. */
export async function openTcp(host: string, port: number, what: string, opts: TcpOptions = {}): Promise<StreamTransport> {
  const description = `${what} at ${host}:${port}`;
  const deadline = Date.now() + (opts.retryMs ?? 0);
  for (;;) {
    try {
      const socket = await connectOnce(host, port, opts.timeoutMs ?? 5000);
      socket.setNoDelay(true);
      return new StreamTransport(socket, description, () => new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        socket.once('close', () => resolve());
        socket.end();
        setTimeout(() => { socket.destroy(); resolve(); }, 1000).unref();
      }));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const gone = opts.abandon?.();
      if (code === 'ECONNREFUSED' && !gone && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      const why = gone ?? (code === 'ECONNREFUSED' ? 'connection refused (nothing listens on that port)'
        : code === 'ENOTFOUND' ? 'unknown host'
          : code === 'ETIMEDOUT' ? `no answer within ${opts.timeoutMs ?? 5000} ms` : (error as Error).message);
      throw new McutrainError(`cannot connect to the ${description}: ${why}`,
        'start the GDB server first (openocd, pyocd gdbserver, JLinkGDBServer, or qemu -gdb tcp::PORT) and check host:port');
    }
  }
}

function connectOnce(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}

/**
 * A serial port with a parity bit, which the link's SerialTransport (8N1) does not set: the STM32
 * bootloader's UART runs 8E1. A GDB server on a serial port uses SerialTransport.
 */
export interface SerialOptions {
  baudRate: number;
  parity?: 'none' | 'even' | 'odd';
}

/** Opens a serial port (a tty, a USB CDC device, a pty); clear errors for a missing or busy port. */
export async function openSerial(path: string, what: string, opts: SerialOptions): Promise<StreamTransport> {
  // Loaded here, not as every command starts: its native binding takes ~50 ms of CPU to load.
  const { SerialPort } = await import('serialport');
  const port = new SerialPort({ path, baudRate: opts.baudRate, parity: opts.parity ?? 'none', dataBits: 8, stopBits: 1, autoOpen: false });
  await new Promise<void>((resolve, reject) => {
    port.open((error) => {
      if (!error) return resolve();
      const message = error.message;
      const missing = /ENOENT|No such file/i.test(message);
      reject(new McutrainError(`cannot open ${what} on ${path}: ${missing ? 'no such port' : message}`,
        missing ? 'check the port name (ls /dev/ttyACM* /dev/ttyUSB*) and that the board or probe is plugged in'
          : 'is another program (a serial monitor, a GDB session) using the port? on Linux, is the user in the dialout group?'));
    });
  });
  const description = `${what} on ${path} at ${opts.baudRate} baud`;
  return new StreamTransport(port, description, () => new Promise<void>((resolve) => {
    if (!port.isOpen) return resolve();
    port.close(() => resolve());
  }), opts.baudRate / 10);
}
