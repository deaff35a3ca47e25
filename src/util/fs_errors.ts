/**
 * File-system failures the user can act on (a read-only disk, no permission, a full disk, a path
 * through a file), told as McutrainErrors that name the path and what to do, instead of stack traces.
 */
import path from 'node:path';
import { McutrainError } from '../errors.ts';

const REASONS: Record<string, { why: string; hint: string }> = {
  EACCES: { why: 'permission denied', hint: 'choose a location you may write to (e.g. -o under your home folder), or fix the permissions' },
  EPERM: { why: 'operation not permitted', hint: 'choose a location you may write to (e.g. -o under your home folder), or fix the permissions' },
  EROFS: { why: 'the file system is read-only', hint: 'write the output to a writable location with -o' },
  ENOSPC: { why: 'no space left on the device', hint: 'free some disk space, or write the output elsewhere with -o' },
  ENOTDIR: { why: 'a part of the path is a file, not a folder', hint: 'check the path' },
  EISDIR: { why: 'it is a folder, not a file', hint: 'pass a file, not a folder' },
  ENOENT: { why: 'no such file or folder', hint: 'check the path' },
  EEXIST: { why: 'something that is not a folder is in the way', hint: 'check the path' },
};

const VERBS: Record<string, string> = {
  open: 'open', read: 'read', write: 'write', mkdir: 'create the folder', rmdir: 'remove', rm: 'remove', unlink: 'remove',
  rename: 'move', scandir: 'list the folder', opendir: 'list the folder', stat: 'read', lstat: 'read', copyfile: 'copy', cp: 'copy',
};

/**
 * The McutrainError for a Node file-system error with one of the codes above; undefined for anything
 * else. With `output`, a failure on a path next to or inside it (its temporary sibling), or on an open
 * file (a write has no path), names `output`.
 */
export function fileSystemError(e: unknown, output?: string): McutrainError | undefined {
  if (!(e instanceof Error)) return undefined;
  const { code, syscall, path: where, dest } = e as NodeJS.ErrnoException & { dest?: string };
  const reason = code ? REASONS[code] : undefined;
  if (!reason || !syscall) return undefined;
  if (syscall.startsWith('spawn')) {
    return new McutrainError(`cannot run '${where ?? syscall.slice(6)}': ${reason.why}`, 'check that the tool is installed and on PATH');
  }
  if (output !== undefined && (where === undefined || isAround(path.resolve(where), path.resolve(output)))) {
    const above = where !== undefined && path.resolve(output).startsWith(path.resolve(where) + path.sep);
    return new McutrainError(`cannot write '${output}': ${reason.why}${above ? ` at '${where}'` : ''}`, reason.hint);
  }
  const what = where === undefined ? '' : ` '${where}'${dest ? ` to '${dest}'` : ''}`;
  return new McutrainError(`cannot ${VERBS[syscall] ?? syscall}${what}: ${reason.why}`, reason.hint);
}

/** `file` is `output`, inside it, a temporary sibling of it (`out.tmp-1`, `.out.1.tmp`) or a folder above it. */
function isAround(file: string, output: string): boolean {
  const hidden = path.join(path.dirname(output), `.${path.basename(output)}.`);
  return file === output || file.startsWith(output + path.sep) || file.startsWith(output + '.') || file.startsWith(hidden) || output.startsWith(file + path.sep);
}
