/**
 * A page opened in Debian's headless Chromium, driven over the DevTools protocol on a pipe
 * (--remote-debugging-pipe: JSON messages ended by NUL on fds 3 and 4), so a test sees what a user's
 * browser would: every console message, uncaught exception and log entry (failed loads), the laid-out
 * DOM, and a screenshot. Every wait ends on a protocol event or the process's exit, never on a clock.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM = process.env.CHROMIUM ?? 'chromium';
export const hasChromium = spawnSync(CHROMIUM, ['--version']).status === 0;

export interface PageProblem {
  source: 'console' | 'exception' | 'log';
  level: string;
  text: string;
}

export interface OpenedPage {
  /** Console messages, exceptions and log entries at warning level or above. */
  problems: PageProblem[];
  /** Every console message, of any level (a page without script should have none). */
  consoleMessages: PageProblem[];
  evaluate<T>(expression: string): Promise<T>;
  /** A PNG of the clip (CSS pixels, at scale 1). */
  screenshot(clip: { x: number; y: number; width: number; height: number }): Promise<Buffer>;
  close(): Promise<void>;
}

type Message = { id?: number; method?: string; params?: Record<string, any>; result?: any; error?: { message: string }; sessionId?: string };

export async function openPage(url: string, viewport: { width: number; height: number }): Promise<OpenedPage> {
  const proc: ChildProcess = spawn(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--remote-debugging-pipe', '--no-first-run', '--hide-scrollbars',
    '--force-color-profile=srgb', `--window-size=${viewport.width},${viewport.height}`, 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let stderr = '';
  proc.stderr!.on('data', (d) => { stderr += d; });
  const toBrowser = proc.stdio[3] as Writable;
  const fromBrowser = proc.stdio[4] as Readable;

  const pending = new Map<number, { resolve: (r: any) => void; reject: (e: Error) => void }>();
  const listeners: ((m: Message) => void)[] = [];
  let buffered = '';
  let nextId = 1;
  const closed = new Promise<never>((_, reject) => {
    exited.then(() => reject(new Error(`chromium exited before the page was done; its stderr:\n${stderr}`)));
  });
  closed.catch(() => undefined);
  fromBrowser.setEncoding('utf8');
  fromBrowser.on('data', (chunk: string) => {
    buffered += chunk;
    let end: number;
    while ((end = buffered.indexOf('\0')) >= 0) {
      const m = JSON.parse(buffered.slice(0, end)) as Message;
      buffered = buffered.slice(end + 1);
      if (m.id !== undefined && pending.has(m.id)) {
        const p = pending.get(m.id)!;
        pending.delete(m.id);
        if (m.error) p.reject(new Error(m.error.message));
        else p.resolve(m.result);
      } else {
        for (const l of [...listeners]) l(m);
      }
    }
  });
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<any> => {
    const id = nextId++;
    toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    return Promise.race([new Promise((resolve, reject) => pending.set(id, { resolve, reject })), closed]);
  };
  const nextEvent = (method: string): Promise<Message> => Promise.race([new Promise<Message>((resolve) => {
    const l = (m: Message) => {
      if (m.method !== method) return;
      listeners.splice(listeners.indexOf(l), 1);
      resolve(m);
    };
    listeners.push(l);
  }), closed]);

  const problems: PageProblem[] = [];
  const consoleMessages: PageProblem[] = [];
  listeners.push((m) => {
    if (m.method === 'Runtime.consoleAPICalled') {
      const text = (m.params!.args as { value?: unknown; description?: string }[]).map((a) => String(a.value ?? a.description ?? '')).join(' ');
      const entry = { source: 'console' as const, level: String(m.params!.type), text };
      consoleMessages.push(entry);
      if (entry.level === 'error' || entry.level === 'warning' || entry.level === 'assert') problems.push(entry);
    } else if (m.method === 'Runtime.exceptionThrown') {
      const d = m.params!.exceptionDetails;
      problems.push({ source: 'exception', level: 'error', text: String(d.exception?.description ?? d.text) });
    } else if (m.method === 'Log.entryAdded') {
      const e = m.params!.entry;
      if (e.level === 'error' || e.level === 'warning') problems.push({ source: 'log', level: e.level, text: `${e.text}${e.url ? ` (${e.url})` : ''}` });
    }
  });

  const targets = await send('Target.getTargets');
  const page = (targets.targetInfos as { type: string; targetId: string }[]).find((t) => t.type === 'page');
  if (!page) throw new Error('chromium opened no page');
  const { sessionId } = await send('Target.attachToTarget', { targetId: page.targetId, flatten: true });
  const call = (method: string, params: Record<string, unknown> = {}) => send(method, params, sessionId);
  await call('Page.enable');
  await call('Runtime.enable');
  await call('Log.enable');
  await call('Emulation.setDeviceMetricsOverride', { width: viewport.width, height: viewport.height, deviceScaleFactor: 1, mobile: false });
  const loaded = nextEvent('Page.loadEventFired');
  const navigated = await call('Page.navigate', { url });
  if (navigated.errorText) throw new Error(`chromium could not open ${url}: ${navigated.errorText}`);
  await loaded;

  return {
    problems,
    consoleMessages,
    async evaluate<T>(expression: string): Promise<T> {
      const r = await call('Runtime.evaluate', { expression, returnByValue: true });
      if (r.exceptionDetails) throw new Error(`evaluating in the page failed: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
      return r.result.value as T;
    },
    async screenshot(clip) {
      const r = await call('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip: { ...clip, scale: 1 } });
      return Buffer.from(r.data as string, 'base64');
    },
    async close() {
      // a browser that does not close on request is ended (it is this test's own child), then waited for
      await send('Browser.close').catch(() => proc.kill());
      await exited;
    },
  };
}
