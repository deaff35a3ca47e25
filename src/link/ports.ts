/**
 * The serial ports of this computer, with a guess of what each one is: the virtual COM port of a
 * debug probe or a board, a USB-serial adapter, or a built-in UART. Boards usually reach the host
 * through their debug probe's VCP (ST-Link, J-Link, DAPLink, ...), so those are listed first.
 */
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { formatTable } from '../util/table.ts';

/**
 * One port as serialport's list() reports it (every field but `path` may be missing), plus the USB
 * interface number where the OS says it (sysfs on Linux; else read from pnpId or the macOS name).
 */
export interface PortRecord {
  path: string;
  manufacturer?: string;
  serialNumber?: string;
  pnpId?: string;
  locationId?: string;
  vendorId?: string;
  productId?: string;
  /** Windows only. */
  friendlyName?: string;
  interfaceNumber?: number;
}

/**
 * What a port probably is, most likely to be a board first:
 * - `probe`: the virtual COM port of a debug probe (on a board or standalone), or a board's own USB;
 * - `adapter`: a USB-serial adapter chip, on a cable or on a board;
 * - `usb`: another USB device with a serial port;
 * - `builtin`: a UART of this computer (not USB);
 * - `gdb-server`: a probe's GDB server port, which is not a board's UART at all.
 */
export type PortKind = 'probe' | 'adapter' | 'usb' | 'builtin' | 'gdb-server';

export interface BoardPort {
  path: string;
  manufacturer?: string;
  serialNumber?: string;
  /** Four lowercase hex digits, when it is a USB device. */
  vendorId?: string;
  productId?: string;
  interfaceNumber?: number;
  kind: PortKind;
  /** e.g. `ST-Link V2-1 VCP (Nucleo / Discovery)`; undefined for an unknown device. */
  guess?: string;
  /** A caution about this port, e.g. that it is a probe's GDB server and not the board's UART. */
  note?: string;
}

interface Known {
  vendorId: string;
  /** Undefined: every product of this vendor. */
  productId?: string;
  kind: PortKind;
  name: string;
  note?: string;
  /** Names the role of one port of a multi-port device by its USB interface number. */
  byInterface?: (iface: number | undefined) => { name: string; kind?: PortKind; note?: string };
}

/** Small on purpose: probes and boards Cortex-M users plug in, and the common adapter chips. First match wins. */
const KNOWN: Known[] = [
  { vendorId: '0483', productId: '374b', kind: 'probe', name: 'ST-Link V2-1 VCP (Nucleo / Discovery board)' },
  { vendorId: '0483', productId: '3752', kind: 'probe', name: 'ST-Link V2-1 VCP (Nucleo / Discovery board)' },
  { vendorId: '0483', productId: '374e', kind: 'probe', name: 'ST-Link V3 VCP (Nucleo / Discovery board)' },
  { vendorId: '0483', productId: '374f', kind: 'probe', name: 'ST-Link V3 VCP' },
  { vendorId: '0483', productId: '3753', kind: 'probe', name: 'ST-Link V3 VCP (dual VCP)' },
  { vendorId: '0483', productId: '3754', kind: 'probe', name: 'ST-Link V3 VCP' },
  { vendorId: '0483', productId: '5740', kind: 'probe', name: 'STM32 USB virtual COM port (the MCU\'s own USB)' },
  { vendorId: '1366', productId: '1015', kind: 'probe', name: 'SEGGER J-Link OB VCOM (Nordic nRF DK)' },
  { vendorId: '1366', kind: 'probe', name: 'SEGGER J-Link VCOM' },
  { vendorId: '1915', kind: 'probe', name: 'Nordic nRF board (DK interface MCU or nRF USB)' },
  { vendorId: '0d28', productId: '0204', kind: 'probe', name: 'Arm DAPLink / mbed interface VCP (micro:bit, FRDM, LPC, ...)' },
  { vendorId: '2e8a', productId: '000a', kind: 'probe', name: 'Raspberry Pi RP2040 USB serial (Pico SDK stdio)' },
  { vendorId: '2e8a', productId: '0004', kind: 'probe', name: 'Raspberry Pi Picoprobe UART' },
  { vendorId: '2e8a', productId: '000c', kind: 'probe', name: 'Raspberry Pi Debug Probe / Picoprobe UART' },
  {
    vendorId: '1d50', productId: '6018', kind: 'probe', name: 'Black Magic Probe',
    byInterface: (iface) => {
      if (iface === 0) {
        return {
          name: 'Black Magic Probe GDB server', kind: 'gdb-server',
          note: 'not the board\'s UART: use the probe\'s other port',
        };
      }
      if (iface === 2) return { name: 'Black Magic Probe UART (the board\'s serial)' };
      return {
        name: 'Black Magic Probe (GDB server or UART)',
        note: 'the OS did not say which: the UART is the second, higher-numbered of its two ports',
      };
    },
  },
  { vendorId: '10c4', productId: 'ea60', kind: 'adapter', name: 'Silicon Labs CP210x USB-serial' },
  { vendorId: '0403', productId: '6001', kind: 'adapter', name: 'FTDI FT232R USB-serial' },
  {
    vendorId: '0403', productId: '6010', kind: 'adapter', name: 'FTDI FT2232 USB-serial',
    byInterface: (iface) => {
      if (iface === 0) return { name: 'FTDI FT2232 channel A', note: 'on boards channel A is often JTAG; the UART is usually channel B' };
      if (iface === 1) return { name: 'FTDI FT2232 channel B' };
      return { name: 'FTDI FT2232 USB-serial (channel A or B)' };
    },
  },
  { vendorId: '0403', productId: '6014', kind: 'adapter', name: 'FTDI FT232H USB-serial' },
  {
    vendorId: '1a86', productId: '7523', kind: 'adapter', name: 'WCH CH340 USB-serial',
    // brltty, a braille display daemon some Linux distributions install, claims CH340s.
    note: 'if it vanishes right after plugging in on Linux, brltty took it: remove the brltty package',
  },
];

const RANK: Record<PortKind, number> = { probe: 0, adapter: 1, usb: 2, builtin: 3, 'gdb-server': 4 };

/** Four lowercase hex digits, from `0483`, `0x0483` or `0483` in any case; undefined if it is not a USB id. */
function usbId(id: string | undefined): string | undefined {
  if (!id) return undefined;
  const hex = id.trim().replace(/^0x/i, '').toLowerCase();
  return /^[0-9a-f]{1,4}$/.test(hex) ? hex.padStart(4, '0') : undefined;
}

/**
 * The USB interface number of a port: given, else from a Linux by-id name (`...-if02`, in pnpId),
 * a Windows device id (`...&MI_02\...`), or a macOS `cu.usbmodem<serial><n>` name (interface n - 1).
 */
export function interfaceNumberOf(record: PortRecord): number | undefined {
  if (record.interfaceNumber !== undefined) return record.interfaceNumber;
  const pnp = record.pnpId ?? '';
  const linux = /-if([0-9a-f]{2})(?:-port\d+)?$/i.exec(pnp);
  if (linux) return parseInt(linux[1], 16);
  const windows = /[&\\]MI_([0-9a-f]{2})/i.exec(pnp);
  if (windows) return parseInt(windows[1], 16);
  if (record.serialNumber) {
    const mac = /\/(?:cu|tty)\.usbmodem(.+)(\d)$/.exec(record.path);
    if (mac && mac[1] === record.serialNumber && Number(mac[2]) > 0) return Number(mac[2]) - 1;
  }
  return undefined;
}

/** What one port probably is (a pure function of what the OS reports). */
export function classifyPort(record: PortRecord): BoardPort {
  const vendorId = usbId(record.vendorId);
  const productId = usbId(record.productId);
  const interfaceNumber = interfaceNumberOf(record);
  const base: BoardPort = {
    path: record.path,
    ...(record.manufacturer ? { manufacturer: record.manufacturer } : {}),
    ...(record.serialNumber ? { serialNumber: record.serialNumber } : {}),
    ...(vendorId ? { vendorId } : {}),
    ...(productId ? { productId } : {}),
    ...(interfaceNumber !== undefined ? { interfaceNumber } : {}),
    kind: vendorId ? 'usb' : 'builtin',
  };
  if (!vendorId) return base;
  const known = KNOWN.find((k) => k.vendorId === vendorId && (k.productId === undefined || k.productId === productId));
  if (!known) return base;
  const role = known.byInterface?.(interfaceNumber);
  const port: BoardPort = { ...base, kind: role?.kind ?? known.kind, guess: role?.name ?? known.name };
  const note = role?.note ?? known.note;
  if (note) port.note = note;
  return port;
}

/**
 * Classifies and sorts: likely boards first, then adapters, unknown USB devices, built-in UARTs and
 * GDB server ports; by path within each.
 */
export function describePorts(records: PortRecord[]): BoardPort[] {
  const collator = new Intl.Collator('en', { numeric: true });
  return records.map(classifyPort).sort((a, b) => RANK[a.kind] - RANK[b.kind] || collator.compare(a.path, b.path));
}

export interface ListOptions {
  /** Where the records come from; default serialport's list(), completed from sysfs on Linux. */
  list?: () => Promise<PortRecord[]>;
}

/**
 * The serial ports of this computer, likely boards first. Uses serialport's list(); on Linux the
 * interface numbers come from sysfs, and so does the whole list where udev is missing (containers).
 */
export async function listBoardPorts(options: ListOptions = {}): Promise<BoardPort[]> {
  return describePorts(await (options.list ?? systemPorts)());
}

async function systemPorts(): Promise<PortRecord[]> {
  const linux = process.platform === 'linux';
  let records: PortRecord[];
  try {
    const { SerialPort } = await import('serialport');
    records = await SerialPort.list();
  } catch (error) {
    if (!linux) throw error;
    records = sysfsPorts(); // no udevadm (a container, a minimal system): sysfs says the same
  }
  if (!linux) return records;
  return records
    .filter((r) => !isAbsentUart(r.path))
    .map((r) => {
      if (r.interfaceNumber !== undefined || r.vendorId === undefined) return r;
      const { interfaceNumber } = usbInterface(r.path);
      return interfaceNumber === undefined ? r : { ...r, interfaceNumber };
    });
}

const SYSFS_TTY = '/sys/class/tty';
/** The device names serialport's Linux list() accepts. */
const SERIAL_NAME = /^(tty(S|WCH|ACM|USB|AMA|MFD|O|XRUSB)|rfcomm)/;

function readSysfs(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** A ttyS<n> that the kernel registered without a UART behind it (type 0): 32 of them on many PCs. */
function isAbsentUart(devicePath: string): boolean {
  const name = path.basename(devicePath);
  return /^ttyS\d+$/.test(name) && readSysfs(path.join(SYSFS_TTY, name, 'type')) === '0';
}

/** The USB facts of /dev/<name> from sysfs: the interface the tty hangs off, and its device above. */
function usbInterface(devicePath: string): Partial<PortRecord> {
  const info: Partial<PortRecord> = {};
  let dir: string;
  try {
    dir = realpathSync(path.join(SYSFS_TTY, path.basename(devicePath), 'device'));
  } catch {
    return info;
  }
  for (let depth = 0; depth < 6 && dir !== '/'; depth++, dir = path.dirname(dir)) {
    const iface = readSysfs(path.join(dir, 'bInterfaceNumber'));
    if (iface !== undefined && info.interfaceNumber === undefined) info.interfaceNumber = parseInt(iface, 16);
    const vendorId = readSysfs(path.join(dir, 'idVendor'));
    if (vendorId !== undefined) {
      info.vendorId = vendorId;
      info.productId = readSysfs(path.join(dir, 'idProduct'));
      info.manufacturer = readSysfs(path.join(dir, 'manufacturer'));
      info.serialNumber = readSysfs(path.join(dir, 'serial'));
      break;
    }
  }
  return info;
}

/** Linux without udev: the ttys with a device behind them, as serialport's list() would give them. */
function sysfsPorts(): PortRecord[] {
  let names: string[];
  try {
    names = readdirSync(SYSFS_TTY);
  } catch {
    return [];
  }
  const records: PortRecord[] = [];
  for (const name of names) {
    if (!SERIAL_NAME.test(name)) continue;
    try {
      readlinkSync(path.join(SYSFS_TTY, name, 'device'));
    } catch {
      continue; // a virtual tty
    }
    const record: PortRecord = { path: `/dev/${name}` };
    for (const [key, value] of Object.entries(usbInterface(record.path))) {
      if (value !== undefined) (record as unknown as Record<string, unknown>)[key] = value;
    }
    records.push(record);
  }
  return records;
}

/** `0483:374b`, or undefined. */
export function usbIdOf(port: BoardPort): string | undefined {
  return port.vendorId ? `${port.vendorId}:${port.productId ?? '????'}` : undefined;
}

/** A terminal table of ports, as listBoardPorts() sorts them, with the notes below it. */
export function formatPorts(ports: BoardPort[]): string {
  if (ports.length === 0) return 'no serial ports found';
  const rows = ports.map((p) => [
    p.path,
    p.guess ?? (p.kind === 'builtin' ? 'serial port (not USB)' : 'unknown USB serial device'),
    (usbIdOf(p) ?? '') + (p.interfaceNumber !== undefined ? ` if${p.interfaceNumber}` : ''),
    p.serialNumber ?? '',
    p.manufacturer ?? '',
  ]);
  const notes = ports.filter((p) => p.note).map((p) => `${p.path}: ${p.note}`);
  return [formatTable(['PORT', 'PROBABLY', 'USB ID', 'SERIAL', 'MANUFACTURER'], rows), ...(notes.length ? ['', ...notes] : [])].join('\n');
}
