/**
 * A reader for what mcutrain needs from a firmware ELF file: the loadable segments (PT_LOAD) of a
 * 32-bit little-endian ARM executable at their load addresses (p_paddr, the LMA: where `.data`'s
 * initial values sit in Flash, not where they are copied to in SRAM) and the entry point, for
 * flashing; and the allocated sections, for the Flash/RAM size table.
 * Layout per the System V ABI (ELF32 header, program and section headers).
 */
import { McutrainError } from '../errors.ts';

export interface ElfLoadSegment {
  /** p_paddr: the load (physical) address the bytes belong at. */
  address: number;
  /** p_vaddr: where the program sees them at run time (differs from `address` for `.data`). */
  virtualAddress: number;
  /** The p_filesz bytes stored in the file; the zero-filled rest up to p_memsz (`.bss`) is not flashed. */
  bytes: Uint8Array;
  memorySize: number;
}

export interface ElfImage {
  entry: number;
  segments: ElfLoadSegment[];
}

const EM_ARM = 40;
const PT_LOAD = 1;
const ET_EXEC = 2;
const ELF32_EHDR = 52;
const ELF32_PHDR = 32;

/** Parses `bytes` (the whole file); `name` is used in error messages. */
export function readElf(bytes: Uint8Array, name: string): ElfImage {
  const bad = (what: string, hint = 'pass the firmware.elf that mcutrain build produced, or a .bin with --base') =>
    new McutrainError(`${name} ${what}`, hint);
  if (bytes.length < 16 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw bad('is not an ELF file (no \\x7fELF magic)');
  }
  const elfClass = bytes[4];
  if (elfClass === 2) throw bad('is a 64-bit ELF file; Cortex-M firmware is 32-bit (ELFCLASS32)', 'was it built for this computer instead of the board? build with arm-none-eabi-gcc');
  if (elfClass !== 1) throw bad(`has an unknown ELF class ${elfClass} (expected 1, ELFCLASS32)`);
  if (bytes[5] !== 1) throw bad(`is big-endian (EI_DATA ${bytes[5]}); Cortex-M firmware is little-endian`);
  if (bytes.length < ELF32_EHDR) throw bad(`is truncated: ${bytes.length} bytes, shorter than an ELF header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint16(16, true);
  const machine = view.getUint16(18, true);
  if (machine !== EM_ARM) {
    throw bad(`is an ELF file for machine ${machine}${machine === 62 ? ' (x86-64)' : machine === 3 ? ' (x86)' : machine === 183 ? ' (AArch64)' : ''}, not ARM (${EM_ARM})`,
      'build the firmware with arm-none-eabi-gcc for the board');
  }
  if (type !== ET_EXEC) throw bad(`is not an executable (e_type ${type}, expected ${ET_EXEC} ET_EXEC): an object file or library cannot be flashed`);
  const entry = view.getUint32(24, true);
  const phoff = view.getUint32(28, true);
  const phentsize = view.getUint16(42, true);
  const phnum = view.getUint16(44, true);
  if (phnum === 0) throw bad('has no program headers, so nothing to load');
  if (phentsize < ELF32_PHDR) throw bad(`has program headers of ${phentsize} bytes (expected ${ELF32_PHDR})`);
  if (phoff + phnum * phentsize > bytes.length) throw bad(`is truncated: its program headers end past the file's ${bytes.length} bytes`);

  const segments: ElfLoadSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (view.getUint32(at, true) !== PT_LOAD) continue;
    const offset = view.getUint32(at + 4, true);
    const vaddr = view.getUint32(at + 8, true);
    const paddr = view.getUint32(at + 12, true);
    const filesz = view.getUint32(at + 16, true);
    const memsz = view.getUint32(at + 20, true);
    if (filesz === 0) continue; // .bss only: zeroed by the startup code, nothing to write
    if (offset + filesz > bytes.length) {
      throw bad(`is truncated: load segment ${i} (0x${hex8(paddr)}, ${filesz} bytes at file offset ${offset}) ends past the file's ${bytes.length} bytes`);
    }
    if (paddr + filesz > 0x1_0000_0000) throw bad(`has load segment ${i} at 0x${hex8(paddr)} running past the 4 GiB address space`);
    segments.push({ address: paddr, virtualAddress: vaddr, bytes: bytes.slice(offset, offset + filesz), memorySize: memsz });
  }
  if (segments.length === 0) throw bad('has no loadable segment with contents (PT_LOAD with p_filesz > 0)');
  return { entry, segments };
}

export function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

export interface ElfSection {
  name: string;
  address: number;
  size: number;
  /** Occupies no file space (SHT_NOBITS: .bss, the stack, the arena when zero-initialised). */
  noBits: boolean;
  writable: boolean;
  executable: boolean;
}

const SHT_NOBITS = 8;
const SHF_WRITE = 1;
const SHF_ALLOC = 2;
const SHF_EXECINSTR = 4;
const ELF32_SHDR = 40;

/** The sections that occupy memory on the device (SHF_ALLOC), in file order. */
export function readElfSections(bytes: Uint8Array, name: string): ElfSection[] {
  readElf(bytes, name); // the same header checks, with the same messages
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = view.getUint32(32, true);
  const shentsize = view.getUint16(46, true);
  const shnum = view.getUint16(48, true);
  const shstrndx = view.getUint16(50, true);
  if (shnum === 0 || shentsize < ELF32_SHDR || shoff + shnum * shentsize > bytes.length || shstrndx >= shnum) {
    throw new McutrainError(`${name} has no readable section headers`, 'pass the unstripped firmware.elf that mcutrain build produced');
  }
  const header = (i: number) => shoff + i * shentsize;
  const strtab = view.getUint32(header(shstrndx) + 16, true);
  const strtabSize = view.getUint32(header(shstrndx) + 20, true);
  const sectionName = (offset: number) => {
    let end = strtab + offset;
    while (end < Math.min(bytes.length, strtab + strtabSize) && bytes[end] !== 0) end++;
    return new TextDecoder().decode(bytes.subarray(strtab + offset, end));
  };
  const sections: ElfSection[] = [];
  for (let i = 1; i < shnum; i++) {
    const at = header(i);
    const flags = view.getUint32(at + 8, true);
    if (!(flags & SHF_ALLOC)) continue;
    sections.push({
      name: sectionName(view.getUint32(at, true)),
      address: view.getUint32(at + 12, true),
      size: view.getUint32(at + 20, true),
      noBits: view.getUint32(at + 4, true) === SHT_NOBITS,
      writable: (flags & SHF_WRITE) !== 0,
      executable: (flags & SHF_EXECINSTR) !== 0,
    });
  }
  return sections;
}

export interface MemoryUsage {
  /** Code and read-only data (.text, .rodata: the weights) plus .data's initial values. */
  flashBytes: number;
  /** .data + .bss + the stack and the arena: everything in SRAM. */
  ramBytes: number;
  text: number;
  rodata: number;
  data: number;
  bss: number;
}

export function memoryUsage(sections: readonly ElfSection[]): MemoryUsage {
  let text = 0, rodata = 0, data = 0, bss = 0;
  for (const s of sections) {
    if (s.noBits) bss += s.size;
    else if (s.writable) data += s.size;
    else if (s.executable) text += s.size;
    else rodata += s.size;
  }
  return { flashBytes: text + rodata + data, ramBytes: data + bss, text, rodata, data, bss };
}

/**
 * The bytes of the writable sections (.data, .bss, the stack, the arena) that lie in the memory region at
 * `origin` of `bytes` bytes: the SRAM an image takes there. A stack in a memory of its own (the STM32H7's
 * DTCM) is not counted, as the planner does not count it.
 */
export function regionBytes(sections: readonly ElfSection[], origin: number, bytes: number): number {
  return sections.filter((s) => s.writable && s.size > 0 && s.address >= origin && s.address < origin + bytes)
    .reduce((sum, s) => sum + s.size, 0);
}
