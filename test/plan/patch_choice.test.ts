/**
 * Which patch layout (stage end x grid) the early stage takes, and what it costs in MACs: 'auto' the
 * smallest arena, 'fit' the fewest recomputed MACs whose build fits the SRAM budget, both the fewest
 * MACs among layouts as good; `plan` (text and --json) and `compile` report the recomputed MACs and
 * their share of the forward pass. Exact figures on zoo models (int8, 128x128x3, 10 classes, seed 1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeTflite } from '../../src/export/write_tflite.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import { lowerGraph } from '../../src/lower/lower.ts';
import { bestPatchedSchedule, patchLayouts } from '../../src/plan/patch_stage.ts';
import { analyzeModel, buildSram, type Analysis } from '../../src/pipeline/pipeline.ts';
import { plannedSram } from '../../src/search/choose_scheme.ts';
import { loadTarget } from '../../src/targets/target.ts';
import { parseScheme } from '../../src/train/scheme.ts';
import { buildZooModel } from '../../src/zoo/zoo.ts';
import { nextTurn } from '../../src/util/event_loop.ts';
import { cliAsync as cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/paths.ts';

const work = tempDir('patch-choice');
afterAll(() => rmSync(work, { recursive: true, force: true }));
const MCUNET = path.join(work, 'mcunet-5fps.tflite');
const MBV2 = path.join(work, 'mobilenetv2-w0.35-144.tflite');
beforeAll(async () => {
  writeFileSync(MCUNET, writeTflite(await buildZooModel('mcunet-5fps', { int8: true })));
  // At 144x144: at 128x128 the whole stage fits the 256 KiB board since samples land in the arena and the stack is 4 KiB.
  writeFileSync(MBV2, writeTflite(await buildZooModel('mobilenetv2-w0.35', { int8: true, input: [144, 144, 3] })));
});

/** A scheme that trains only the last two biases: the whole early stage is frozen, so every layout is open. */
const SHALLOW = 'bias:last=2';
const MCUNET_FORWARD_MACS = 22_455_104;
const layout = (a: Analysis) => (a.patches ? `${a.patches.ops.length} ops ${a.patches.grid}x${a.patches.grid}` : 'whole');

/**
 * MCUNet-5FPS with SHALLOW under patches 'fit': the arena the budget leaves (after the build's other
 * SRAM, which no layout changes), the layout chosen, its recomputed MACs and its arena. Under 70,000 B
 * nothing fits and the smallest arena is taken (as 'auto' does).
 */
const MCUNET_FIT = [
  { arenaLimit: 200_000, layout: 'whole', extraMacs: 0, arena: 163_840 },
  { arenaLimit: 100_000, layout: '10 ops 3x3', extraMacs: 2_013_952, arena: 96_496 },
  { arenaLimit: 90_000, layout: '10 ops 4x4', extraMacs: 3_142_848, arena: 84_592 },
  { arenaLimit: 80_000, layout: '10 ops 6x6', extraMacs: 5_644_480, arena: 78_256 },
  { arenaLimit: 70_000, layout: '10 ops 8x8', extraMacs: 8_471_232, arena: 73_200 },
];

describe('patch layout choice', () => {
  it("'auto' takes the smallest arena; 'fit' the fewest recomputed MACs whose build fits the budget", async () => {
    const bytes = new Uint8Array(readFileSync(MCUNET));
    const scheme = parseScheme(SHALLOW);
    const auto = analyzeModel(bytes, 'mcunet', 'tflm', scheme, { patches: 'auto' });
    expect(layout(auto)).toBe('10 ops 8x8');
    expect(auto.patches!.extraMacs).toBe(8_471_232);
    expect(auto.patches!.forwardMacs).toBe(MCUNET_FORWARD_MACS);
    expect(auto.plan.arenaBytes).toBe(73_200);
    // The forward pass of the training step pays the recomputation.
    expect(auto.training!.macsForward).toBe(MCUNET_FORWARD_MACS + 8_471_232);

    const target = loadTarget('nrf52840-dk');
    const whole = analyzeModel(bytes, 'mcunet', 'tflm', scheme, { patches: 'off' });
    const rest = buildSram(whole, target).totalBytes - buildSram(whole, target).arenaBytes;
    const chosen = [];
    for (const { arenaLimit } of MCUNET_FIT) {
      await nextTurn(); // the planner's calls take seconds each: let the worker talk to vitest in between
      const a = analyzeModel(bytes, 'mcunet', 'tflm', scheme, { patches: 'fit', fitWithin: { target, bytes: rest + arenaLimit } });
      chosen.push({ arenaLimit, layout: layout(a), extraMacs: a.patches?.extraMacs ?? 0, arena: Math.max(a.plan.arenaBytes, a.training!.plan.arenaBytes) });
    }
    expect(chosen).toEqual(MCUNET_FIT);
    // Without a limit (a host), 'fit' recomputes nothing.
    expect(analyzeModel(bytes, 'mcunet', 'tflm', scheme, { patches: 'fit' }).patches).toBeUndefined();
  });

  it("the scheme search prices a scheme under 'fit' as compile --train auto builds it: within the search's budget", () => {
    const bytes = new Uint8Array(readFileSync(MCUNET));
    const target = loadTarget('nrf52840-dk');
    const scheme = parseScheme(SHALLOW);
    const whole = plannedSram(bytes, 'mcunet', target, scheme, 'tflm', 'off');
    const rest = whole.totalBytes - whole.arenaBytes;
    // The 90,000 B row of MCUNET_FIT; the board's own 256 KiB would take the stage whole.
    expect(plannedSram(bytes, 'mcunet', target, scheme, 'tflm', 'fit', rest + 90_000).arenaBytes).toBe(84_592);
    expect(plannedSram(bytes, 'mcunet', target, scheme, 'tflm', 'fit').arenaBytes).toBe(163_840);
  });

  it('among layouts as good, the one recomputing the fewest MACs wins (running whole recomputes none)', () => {
    const graph = importTflite(new Uint8Array(readFileSync(MCUNET)), 'mcunet');
    const calls = lowerGraph(graph);
    const layouts = patchLayouts(graph, calls);
    const macs = layouts.map((p) => p.stage.extraMacs);
    expect(macs).toEqual([...macs].sort((a, b) => a - b));
    expect(layouts.length).toBe(141);
    // Every patched layout equally good, and better than running whole: the cheapest patched one.
    const cheapest = bestPatchedSchedule(graph, calls, (p) => (p ? 1 : 2))!;
    expect([cheapest.stage.ops.length, cheapest.stage.grid, cheapest.stage.extraMacs]).toEqual([2, 2, 112_320]);
    // Running whole as good as any layout: it wins.
    expect(bestPatchedSchedule(graph, calls, () => 1)).toBeNull();
  });

  it('TinyEngine\'s 49 KB scheme: patches lower the peak once masks and in-place gradients have lowered the backward pass', () => {
    // Before 1-bit masks and in-place input gradients the peak sat in the backward pass and the stage
    // ran whole (203,008 B, no patches); with masks alone: 6 operators in 2x2 patches, 123,008 B.
    const a = analyzeModel(new Uint8Array(readFileSync(MCUNET)), 'mcunet', 'tflm', parseScheme('bias:last=21,weights:layers=24@1/4,27,30@1/2,42'));
    expect([a.patches?.ops.length, a.patches?.grid]).toEqual([10, 4]);
    expect(a.training!.plan.arenaBytes).toBe(96_512);
    expect(a.training!.macsForward).toBe(25_597_952);
  });

  it('plan reports the recomputed MACs and their share of the forward pass, in text and JSON', async () => {
    const json = path.join(work, 'plan.json');
    const r = await cli('plan', MCUNET, '--train', SHALLOW, '--json-out', json);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain("Early stage: the first 10 operators as 8x8 patches, recomputing 8,471,232 MACs in their halos (+37.73% of the forward pass's 22,455,104)");
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(report.patches).toEqual({
      ops: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], grid: 8, extraMacs: 8_471_232, forwardMacs: MCUNET_FORWARD_MACS, extraMacsShare: 8_471_232 / MCUNET_FORWARD_MACS,
    });
    const fit = await cli('plan', MCUNET, '--train', SHALLOW, '--target', 'stm32f746g-disco', '--patches', 'fit', '--json-out', json);
    expect(fit.code).toBe(0);
    expect(fit.out).toContain('Early stage: runs whole (the build fits without patches)');
    expect(JSON.parse(readFileSync(json, 'utf8')).patches).toBeNull();
  });

  it('compile --patches fit (and its refusal\'s hint) makes MobileNetV2 at 144x144 fit a 256 KiB board recomputing 1.3% of its MACs where auto recomputes 44%', async () => {
    const summary = async (mode: string) => {
      const r = await cli('compile', MBV2, '--target', 'nrf52840-dk', '--patches', mode, '-o', path.join(work, `mbv2-${mode}`));
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      return r.out;
    };
    const auto = await summary('auto');
    expect(auto).toContain("early stage: the first 10 operators as 8x8 patches, recomputing 9,640,064 MACs in their halos (+44.22% of the forward pass's 21,797,872)");
    expect(auto).toContain('SRAM arena 85,728 B');
    const fit = await summary('fit');
    expect(fit).toContain("early stage: the first 5 operators as 2x2 patches, recomputing 285,632 MACs in their halos (+1.31% of the forward pass's 21,797,872)");
    expect(fit).toContain('SRAM arena 203,904 B');
    expect(fit).toContain('fits nrf52840-dk');
    // Refused without patches, the hints name both, with what each recomputes.
    const refused = await cli('compile', MBV2, '--target', 'nrf52840-dk', '-o', path.join(work, 'mbv2-off'));
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("--patches auto (the first 10 operators as 8x8 patches) needs 89.1 KiB of SRAM, which fits, recomputing 44.22% of the forward pass's MACs; " +
      "or --patches fit (the first 5 operators as 2x2 patches) needs 204.5 KiB of SRAM, which fits, recomputing 1.31% of the forward pass's MACs");
  });
});
