/**
 * Writing outputs so that a failure never leaves a half-written file or folder behind: a full disk, a
 * read-only location, Ctrl-C, or a kill part-way (whose leftovers the next run clears up).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { McutrainError } from '../errors.ts';
import { fileSystemError } from './fs_errors.ts';
import { processAlive } from './process_alive.ts';

/** Writes a file via a temporary sibling and a rename. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    removeQuietly(tmp);
    throw fileSystemError(e, file) ?? e;
  }
}

/**
 * Fills a fresh temporary folder next to `dir` with `fill`, then swaps it in place of `dir`.
 * `isOurs` guards against replacing a folder that holds something else. SIGINT and SIGTERM are held
 * while the folder is filled and swapped (they end the process right after), so that `dir` is never
 * missing; a replace killed outright is undone by the next one (see recoverInterruptedReplace).
 */
export function replaceDirAtomic(dir: string, isOurs: (existing: string) => boolean, fill: (tmp: string) => void): void {
  const target = path.resolve(dir);
  recoverInterruptedReplace(target);
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) throw new McutrainError(`'${dir}' exists and is not a folder`, 'choose another output folder with -o');
    if (readdirSync(target).length > 0 && !isOurs(target)) {
      throw new McutrainError(`refusing to replace '${dir}': it is not empty and was not made by mcutrain`, 'choose a new or empty output folder with -o');
    }
  }
  const tmp = `${target}.${TMP}-${process.pid}`;
  const old = `${target}.${OLD}-${process.pid}`;
  const release = holdSignals();
  try {
    mkdirSync(path.dirname(target), { recursive: true });
    removeQuietly(tmp);
    mkdirSync(tmp);
    fill(tmp);
    swapIn(tmp, target, old);
  } catch (e) {
    removeQuietly(tmp);
    throw fileSystemError(e, dir) ?? e;
  } finally {
    release();
  }
  removeQuietly(old); // a failure leaves it for the next run's recovery
}

const TMP = 'tmp';
const OLD = 'old';

/** tmp -> target, the previous target (if any) moved aside to `old` first and put back if the second rename fails. */
function swapIn(tmp: string, target: string, old: string): void {
  const had = existsSync(target);
  if (had) renameSync(target, old);
  try {
    renameSync(tmp, target);
  } catch (e) {
    if (had) renameSync(old, target);
    throw e;
  }
}

/**
 * Clears what a replace of `target` killed part-way by another process left next to it: its previous
 * folder `<target>.old-<pid>` goes back in place if `target` is missing, temporary folders are removed.
 * Folders of a process that still runs are left alone. Returns whether the previous folder was restored.
 */
export function recoverInterruptedReplace(target: string): boolean {
  const parent = path.dirname(target);
  const base = path.basename(target);
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return false; // no parent yet: nothing to recover
  }
  const leftovers = names
    .map((name) => ({ name, m: new RegExp(`^${escapeRegExp(base)}\\.(${TMP}|${OLD})-(\\d+)$`).exec(name) }))
    .filter(({ m }) => m && !isRunning(Number(m[2])))
    .sort((a, b) => (a.m![1] === OLD ? -1 : 0) - (b.m![1] === OLD ? -1 : 0));
  let restored = false;
  for (const { name, m } of leftovers) {
    const file = path.join(parent, name);
    if (m![1] === OLD && !existsSync(target)) {
      renameSync(file, target);
      restored = true;
    } else {
      rmSync(file, { recursive: true, force: true });
    }
  }
  return restored;
}

/** Another process that may still be writing its leftovers (ours are from an earlier, ended run). */
const isRunning = (pid: number) => pid !== process.pid && processAlive(pid);

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function removeQuietly(file: string): void {
  try {
    rmSync(file, { recursive: true, force: true });
  } catch {
    // left for the next run's recovery
  }
}

const HELD_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
/** Replaces in progress (or finishing), and the signals that came meanwhile; one listener serves them all. */
let holders = 0;
const held: NodeJS.Signals[] = [];
const hold = (signal: NodeJS.Signals) => { held.push(signal); };

/**
 * Holds SIGINT/SIGTERM until the returned function is called, then ends the process with the first one
 * that came. A signal that arrives during synchronous work is dispatched on a later turn of the event
 * loop, after it has polled; the listener stays for two turns so that one is not lost.
 */
function holdSignals(): () => void {
  if (holders++ === 0) for (const s of HELD_SIGNALS) process.on(s, hold);
  return () => {
    setImmediate(() => setImmediate(() => {
      if (--holders > 0) return;
      for (const s of HELD_SIGNALS) process.off(s, hold);
      const first = held[0];
      held.length = 0;
      if (first) process.kill(process.pid, first);
    }));
  };
}
