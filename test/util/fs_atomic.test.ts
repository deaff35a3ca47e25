/** Replacing an output folder: leftovers of killed runs, and signals held only while a replace runs. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { recoverInterruptedReplace, replaceDirAtomic } from '../../src/util/fs_atomic.ts';
import { tempDir } from '../helpers/paths.ts';

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('replaceDirAtomic', () => {
  it('puts back the folder a killed replace moved aside, removes its temporary folder, and leaves a running one alone', () => {
    const dir = tempDir('atomic');
    const target = path.join(dir, 'out');
    const dead = spawnSync('true').pid!;
    mkdirSync(`${target}.old-${dead}`);
    writeFileSync(path.join(`${target}.old-${dead}`, 'a.txt'), 'previous');
    mkdirSync(`${target}.tmp-${dead}`);
    mkdirSync(`${target}.tmp-${process.ppid}`); // a replace still running in another process
    expect(recoverInterruptedReplace(target)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['out', `out.tmp-${process.ppid}`]);
    expect(readFileSync(path.join(target, 'a.txt'), 'utf8')).toBe('previous');
    expect(recoverInterruptedReplace(target)).toBe(false);
  });

  it('holds SIGINT/SIGTERM with one listener however many replaces run, and lets go two turns after the last', async () => {
    const before = process.listenerCount('SIGINT');
    const beforeTerm = process.listenerCount('SIGTERM');
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const dir = tempDir('atomic');
    for (let i = 0; i < 20; i++) replaceDirAtomic(path.join(dir, 'out'), () => true, (tmp) => writeFileSync(path.join(tmp, 'n.txt'), String(i)));
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    await turn();
    await turn();
    await turn();
    process.off('warning', onWarning);
    expect(process.listenerCount('SIGINT')).toBe(before);
    expect(process.listenerCount('SIGTERM')).toBe(beforeTerm);
    expect(warnings).toEqual([]);
    expect(readFileSync(path.join(dir, 'out', 'n.txt'), 'utf8')).toBe('19');
    expect(readdirSync(dir)).toEqual(['out']);
  });
});
