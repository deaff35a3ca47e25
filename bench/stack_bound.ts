/**
 * A static bound on the stack a board image can use, from arm-none-eabi-gcc's own call graph with frame
 * sizes (-fcallgraph-info=su: one .ci file per source). The image is rebuilt with that flag in a copy of
 * the project. The bound is the deepest path from main (under the reset handler) plus, for each exception
 * that can arrive on the main stack (SysTick, the external interrupts, a fault before it switches to its
 * own stack), the 104-byte frame the core pushes with the FP context and the handler's deepest path.
 * A call through a pointer (the link port, the training step) may reach any function nothing calls
 * directly, kernels this model does not use included: an over-estimate, never an under-estimate.
 */
import { spawn } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

/** Cortex-M exception entry with the floating-point context (lazy stacking reserves it): 26 words. */
const EXCEPTION_FRAME_BYTES = 104;
const HANDLERS = ['mt_cm_systick_isr', 'mt_irq_entry', 'mt_cm_fault_entry'];
/** Not reachable through a pointer: entry points and the fault report (it runs on its own stack). */
const NOT_INDIRECT = new Set(['main', 'mt_reset_handler', 'mt_cm_fault_report', ...HANDLERS]);

export interface StackBound {
  bytes: number;
  /** The thread-mode path: function(frame bytes), outermost first. */
  path: string[];
  threadBytes: number;
  exceptionBytes: number;
}

interface CallGraph {
  frame: Map<string, number>;
  /** Functions by their plain name (several static functions may share one). */
  byName: Map<string, string[]>;
  calls: Map<string, Set<string>>;
}

/** Parses the VCG files gcc writes: nodes with "<n> bytes (static)" in their label, edges between titles. */
function readCallGraph(dir: string): CallGraph {
  const g: CallGraph = { frame: new Map(), byName: new Map(), calls: new Map() };
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ci'))) {
    for (const line of readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      const node = /^node: \{ title: "([^"]+)" label: "([^"\\]*)\\n[^"]*?(\d+) bytes \((static|dynamic,bounded)\)/.exec(line);
      if (node) {
        g.frame.set(node[1], Number(node[3]));
        g.byName.set(node[2], [...(g.byName.get(node[2]) ?? []), node[1]]);
        continue;
      }
      const dynamic = /^node: \{ title: "([^"]+)" label: "[^"]*bytes \(dynamic\)/.exec(line);
      if (dynamic) throw new Error(`${dynamic[1]} has a frame of unbounded size: no static stack bound`);
      const edge = /^edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"/.exec(line);
      if (edge) g.calls.set(edge[1], (g.calls.get(edge[1]) ?? new Set()).add(edge[2]));
    }
  }
  return g;
}

function bound(g: CallGraph): StackBound {
  const resolve = (callee: string) => (g.frame.has(callee) ? [callee] : g.byName.get(callee.split(':').at(-1)!) ?? []);
  const called = new Set<string>();
  for (const [caller, callees] of g.calls) for (const c of callees) for (const f of resolve(c)) if (f !== caller) called.add(f);
  const plain = (f: string) => f.split(':').at(-1)!.replace(/\.(constprop|isra|part)\.\d+$/, '');
  const indirect = [...g.frame.keys()].filter((f) => !called.has(f) && !NOT_INDIRECT.has(plain(f)));
  const memo = new Map<string, { bytes: number; path: string[] }>();
  const onPath = new Set<string>();
  const deepest = (f: string): { bytes: number; path: string[] } => {
    const known = memo.get(f);
    if (known) return known;
    if (onPath.has(f)) throw new Error(`recursion through ${f}: no static stack bound`);
    onPath.add(f);
    const own = g.frame.get(f)!;
    let best = { bytes: 0, path: [] as string[] };
    let self = 0;
    for (const c of g.calls.get(f) ?? []) {
      for (const callee of c === '__indirect_call' ? indirect : resolve(c)) {
        if (callee === f) { // the link's frame parser feeds a rejected header back once, never deeper
          self = own;
          continue;
        }
        const d = deepest(callee);
        if (d.bytes > best.bytes) best = d;
      }
    }
    onPath.delete(f);
    const result = { bytes: own + self + best.bytes, path: [`${plain(f)}(${own})`, ...best.path] };
    memo.set(f, result);
    return result;
  };
  const entry = (name: string) => {
    const fs = g.byName.get(name) ?? [];
    if (fs.length === 0) throw new Error(`no ${name} in the call graph`);
    return fs.map(deepest).reduce((a, b) => (b.bytes > a.bytes ? b : a));
  };
  const thread = entry('mt_reset_handler');
  const exceptionBytes = HANDLERS.filter((h) => g.byName.has(h)).reduce((sum, h) => sum + EXCEPTION_FRAME_BYTES + entry(h).bytes, 0);
  return { bytes: thread.bytes + exceptionBytes, path: thread.path, threadBytes: thread.bytes, exceptionBytes };
}

/** The bound for the board project in `projectDir` (built from a copy; the project itself is left as it is). */
export async function staticStackBound(projectDir: string, work: string): Promise<StackBound> {
  const copy = path.join(work, `${path.basename(projectDir)}-callgraph`);
  rmSync(copy, { recursive: true, force: true });
  cpSync(projectDir, copy, { recursive: true });
  await new Promise<void>((resolve, reject) => {
    const make = spawn('make', ['-C', copy, '--no-print-directory', 'OPT=-O2 -fcallgraph-info=su', 'firmware.elf'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    make.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    make.on('error', reject);
    make.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`make with -fcallgraph-info failed:\n${err}`))));
  });
  try {
    return bound(readCallGraph(copy));
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}
