/**
 * The report in a real browser (Debian's headless Chromium, installed by scripts/setup.sh): the page
 * loads without console errors or failed loads, its charts are laid out with their axes, and a
 * screenshot shows them (the charts' colours are in the pixels where the charts are).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PHASE_COLOURS } from '../../src/report/memory_timeline.ts';
import { cliAsync } from '../helpers/cli.ts';
import { hasChromium, openPage, type OpenedPage } from '../helpers/headless_chromium.ts';
import { model, tempDir } from '../helpers/paths.ts';
import { countColour, decodePng } from '../helpers/png.ts';

const WIDTH = 1200;
const ACTIVATION = '#7aa6d6';
const BOARD_SRAM = '#bb0000';
const BUDGET = '#e08a00';
const BAR = '#4e79a7';

interface Box { x: number; y: number; width: number; height: number }

describe.skipIf(!hasChromium)('the HTML report in headless Chromium', () => {
  const dir = tempDir('report-browser');
  let page: OpenedPage;

  beforeAll(async () => {
    const history = path.join(dir, 'train.json');
    const profile = path.join(dir, 'profile.json');
    // a training history and a profile as train --json and profile --json write them
    writeFileSync(history, JSON.stringify({
      device: 'host engine',
      epochs: [1, 2, 3].map((epoch) => ({ epoch, trainLoss: 0.7 / epoch, trainAccuracy: 0.5 + epoch / 10, valLoss: 0.8 / epoch, valAccuracy: 0.45 + epoch / 10, msPerStep: 1, ticksPerStep: 1 })),
      steps: Array.from({ length: 30 }, (_, i) => ({ epoch: 1 + Math.floor(i / 10), sample: i % 10, label: i % 2, loss: 0.8 / (1 + i / 10), predicted: i % 2 })),
    }));
    writeFileSync(profile, JSON.stringify({
      target: 'host', device: 'host engine', runs: 3, tickUnit: 'ns', totalTicks: 3000,
      ops: ['CONV_2D', 'DEPTHWISE_CONV_2D', 'CONV_2D', 'AVERAGE_POOL_2D', 'FULLY_CONNECTED'].map((kind, index) => ({ index, kind, macs: 1000 * (5 - index), ticks: 200 * (5 - index), share: (5 - index) / 15 })),
    }));
    const out = path.join(dir, 'report.html');
    const r = await cliAsync('report', model('vww96_int8.tflite'), '--train', 'bias:last=4,weights:layers=-1@1/4', '--target', 'nrf52840-dk',
      '--budget', '96KiB', '--history', history, '--profile', profile, '-o', out);
    expect(r.code, r.err).toBe(0);
    page = await openPage(pathToFileURL(out).href, { width: WIDTH, height: 900 });
  });

  afterAll(async () => {
    await page?.close();
  });

  it('loads without a console message, an exception or a failed load', () => {
    expect(page.problems).toEqual([]);
    expect(page.consoleMessages).toEqual([]);
  });

  it('lays out every chart with its axes and tick labels, the peak marked', async () => {
    const charts = await page.evaluate<{ section: string; width: number; height: number; ticks: number }[]>(`
      [...document.querySelectorAll('section')].flatMap((s) => [...s.querySelectorAll('svg')]
        .filter((svg) => svg.getBoundingClientRect().width > 100)
        .map((svg) => ({ section: s.id, width: svg.getBoundingClientRect().width, height: svg.getBoundingClientRect().height,
          ticks: svg.querySelectorAll('g[aria-label$="tick label"] text').length })))`);
    expect(charts.map((c) => c.section)).toEqual(['memory-timeline', 'memory-breakdown', 'latency', 'training', 'training']);
    for (const c of charts) {
      expect(c.width, c.section).toBeGreaterThan(300);
      expect(c.height, c.section).toBeGreaterThan(100);
      expect(c.ticks, c.section).toBeGreaterThan(4);
    }
    const peak = await page.evaluate<Box>(`(() => { const r = document.querySelector('g.peak-marker line').getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height }; })()`);
    expect(peak.height).toBeGreaterThan(200);
  });

  it('shows the charts in a screenshot of the whole page', async () => {
    const size = await page.evaluate<{ width: number; height: number }>('({ width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight })');
    const png = await page.screenshot({ x: 0, y: 0, ...size });
    writeFileSync(path.join(dir, 'report.png'), png);
    const shot = decodePng(png);
    expect([shot.width, shot.height]).toEqual([WIDTH, size.height]);
    const box = (selector: string) => page.evaluate<Box>(`(() => { const svgs = [...document.querySelectorAll('${selector} svg')].filter((s) => s.getBoundingClientRect().width > 100);
      const r = svgs[0].getBoundingClientRect(); return { x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height }; })()`);
    const timeline = decodePng(await page.screenshot(await box('#memory-timeline')));
    const latency = decodePng(await page.screenshot(await box('#latency')));
    const notWhite = (p: typeof timeline) => {
      let n = 0;
      for (let i = 0; i < p.data.length; i += p.channels) if (p.data[i] < 250 || p.data[i + 1] < 250 || p.data[i + 2] < 250) n++;
      return n / (p.width * p.height);
    };
    expect(notWhite(shot)).toBeGreaterThan(0.05);
    // the activations fill much of the timeline; its phase strip, the board's SRAM and the budget lines show
    expect(countColour(timeline, ACTIVATION) / (timeline.width * timeline.height)).toBeGreaterThan(0.05);
    expect(countColour(timeline, PHASE_COLOURS.forward)).toBeGreaterThan(500);
    expect(countColour(timeline, BOARD_SRAM)).toBeGreaterThan(300);
    expect(countColour(timeline, BUDGET)).toBeGreaterThan(300);
    expect(countColour(latency, BAR)).toBeGreaterThan(5000);
  });
});

describe.skipIf(!hasChromium)('the headless Chromium harness', () => {
  it('reports console errors, exceptions and failed loads (so a clean page above means something)', async () => {
    const dir = tempDir('report-browser-control');
    const file = path.join(dir, 'broken.html');
    writeFileSync(file, '<!doctype html><html><body><img src="missing.png"><script>console.error("drawn wrong"); undefinedFunction();</script></body></html>');
    const page = await openPage(pathToFileURL(file).href, { width: 400, height: 300 });
    await page.close();
    expect(page.problems.map((p) => p.source).sort()).toEqual(['console', 'exception', 'log']);
    expect(page.problems.find((p) => p.source === 'console')!.text).toBe('drawn wrong');
    expect(page.problems.find((p) => p.source === 'exception')!.text).toContain('undefinedFunction is not defined');
    expect(page.problems.find((p) => p.source === 'log')!.text).toContain('missing.png');
  });
});
