/**
 * Who may import whom across the repository's top folders: the product (src/) imports neither tests nor
 * experiments; tests import shared code from src/ or test/helpers, never from experiments/ (a script
 * is not a library); the training session, used by the command line, the search and the experiments,
 * imports nothing from the command line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/paths.ts';

function sources(dir: string): string[] {
  return readdirSync(path.join(REPO, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f));
}

/** Every file under `dir` importing (statically or dynamically) a path under one of `folders`, as "file -> import". */
function importsInto(dir: string, folders: string[]): string[] {
  const found: string[] = [];
  for (const file of sources(dir)) {
    const text = readFileSync(path.join(REPO, file), 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
      if (!m[1].startsWith('.')) continue;
      const target = path.relative(REPO, path.resolve(path.dirname(path.join(REPO, file)), m[1]));
      if (folders.some((f) => target.startsWith(`${f}/`))) found.push(`${file} -> ${m[1]}`);
    }
  }
  return found;
}

describe('import boundaries', () => {
  it('src/ imports no tests and no experiments', () => {
    expect(importsInto('src', ['test', 'experiments'])).toEqual([]);
  });

  it('tests import no experiments', () => {
    expect(importsInto('test', ['experiments'])).toEqual([]);
  });

  it('the training session imports nothing from the command line', () => {
    expect(sources('src/session').length).toBeGreaterThan(0);
    expect(importsInto('src/session', ['src/cli'])).toEqual([]);
  });
});
