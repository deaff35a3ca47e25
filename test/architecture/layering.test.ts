/**
 * The folders of src/ form layers: a folder imports only folders below it, so no two folders import
 * each other, even through others (README, "How it works", lists the layers). The graph is read from
 * the source: every relative import, `import type`, `export ... from` and dynamic import() between two
 * folders of src/ (the files at src/'s root, errors.ts and version.ts, are a folder of their own).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/**
 * File-level imports the graph leaves out, each until the work that removes it lands. An exception
 * no longer in the source fails the test, so it is deleted with the import.
 */
const TEMPORARY_EXCEPTIONS: { from: string; to: string; why: string }[] = [
  // e.g. { from: 'train/lower_backward.ts', to: 'codegen/c_literals.ts', why: 'cFloat in the backward lowering, until typed arguments land' }
];

/** Module specifiers a TypeScript file imports or re-exports from (static, type-only and dynamic). */
export function importSpecifiers(text: string): string[] {
  // Comments may quote code; strings are left alone (no specifier pattern spans a quote).
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const patterns = [
    /\b(?:import|export)\b[^;'"`]*?\bfrom\s*['"]([^'"]+)['"]/g, // import x / import type x / export {..} / export * ... from '...'
    /\bimport\s*['"]([^'"]+)['"]/g, // import '...' (for its effects)
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, // import('...')
  ];
  return patterns.flatMap((re) => [...code.matchAll(re)].map((m) => m[1]));
}

/** The folder of a file under src/; src/'s own files are each a node of their own (errors.ts sits below every
 * folder, index.ts, the package's API, above them all). */
const folderOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : rel);

type FolderGraph = Map<string, Map<string, string[]>>;

/** folder -> folder it imports -> the file-level imports ("a/x.ts -> b/y.ts") that make the edge. */
function folderGraph(exceptions = TEMPORARY_EXCEPTIONS): { graph: FolderGraph; unusedExceptions: string[] } {
  const graph: FolderGraph = new Map();
  const used = new Set<string>();
  const files = (readdirSync(SRC, { recursive: true }) as string[]).map((f) => f.split(path.sep).join('/')).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    for (const spec of importSpecifiers(readFileSync(path.join(SRC, file), 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      if (target.startsWith('../')) continue; // outside src/ (e.g. package.json)
      const [from, to] = [folderOf(file), folderOf(target)];
      if (from === to) continue;
      const exception = exceptions.find((e) => e.from === file && e.to === target);
      if (exception) {
        used.add(`${exception.from} -> ${exception.to}`);
        continue;
      }
      const edges = graph.get(from) ?? new Map<string, string[]>();
      graph.set(from, edges);
      edges.set(to, [...(edges.get(to) ?? []), `${file} -> ${target}`]);
    }
  }
  return { graph, unusedExceptions: exceptions.map((e) => `${e.from} -> ${e.to}`).filter((e) => !used.has(e)) };
}

/** A cycle of the graph as its folders in order (the first repeated at the end), or null when there is none. */
export function findCycle(graph: Map<string, Iterable<string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'open') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of [...graph.keys()].sort()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

describe('folder layering of src/', () => {
  it('reads every kind of import and re-export, and none in comments', () => {
    const text = [
      "import { a } from './a.ts';",
      "import type { B } from '../b/b.ts';",
      "import {\n  c,\n  type C,\n} from '../c/c.ts';",
      "export { d } from '../d/d.ts';",
      "export type { E } from '../e/e.ts';",
      "export * from '../f/f.ts';",
      "import '../g/g.ts';",
      "const h = await import('../h/h.ts');",
      "// import { x } from '../commented/out.ts';",
      "/* export { y } from '../also/out.ts'; */",
      "const s = 'from'; export const t = 1;",
    ].join('\n');
    expect(importSpecifiers(text).sort()).toEqual(['../b/b.ts', '../c/c.ts', '../d/d.ts', '../e/e.ts', '../f/f.ts', '../g/g.ts', '../h/h.ts', './a.ts']);
  });

  it('finds a cycle through several folders, and none in a layered graph', () => {
    const g = (edges: [string, string[]][]) => new Map(edges);
    expect(findCycle(g([['cli', ['link']], ['link', ['emulate']], ['emulate', ['link']]]))).toEqual(['link', 'emulate', 'link']);
    expect(findCycle(g([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual(['a', 'b', 'c', 'a']);
    expect(findCycle(g([['cli', ['link', 'ir']], ['link', ['ir']], ['ir', []]]))).toBeNull();
  });

  it('has no import cycle between folders', () => {
    const { graph } = folderGraph();
    const cycle = findCycle(new Map([...graph].map(([from, edges]) => [from, edges.keys()])));
    const why = cycle && cycle.slice(1).map((to, i) => `${cycle[i]} -> ${to}: ${graph.get(cycle[i])!.get(to)!.join(', ')}`).join('\n');
    expect(why, `import cycle ${cycle?.join(' -> ')}; move what one side needs to a lower folder`).toBeNull();
    // The graph is read at all: the pipeline imports the passes' folders.
    expect([...graph.get('pipeline')!.keys()].sort()).toEqual(expect.arrayContaining(['codegen', 'import', 'lower', 'plan', 'train']));
  });

  it('keeps no exception the source no longer needs', () => {
    expect(folderGraph().unusedExceptions, 'delete these from TEMPORARY_EXCEPTIONS').toEqual([]);
  });
});
