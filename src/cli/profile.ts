/** `mcutrain profile`: per-operator latency, peak SRAM and Flash of the engine on its device. */
import type { ProfileInfo } from '../link/protocol.ts';
import type { ProjectManifest } from '../project/manifest.ts';
import { formatBytes, formatTable } from '../util/table.ts';
import type { ProfileData } from '../report/report_html.ts';

/** The per-operator figures (src/report/ draws them), with the memory the device reports. */
export interface ProfileReport extends ProfileData {
  arenaBytes: number;
  lowerBoundBytes: number;
  stackHighWaterBytes: number | null;
  flashConstBytes: number;
}

/** Median per operator over several runs, so one interrupt or scheduler hiccup does not skew the table. */
export function makeProfileReport(manifest: ProjectManifest, device: string, profiles: ProfileInfo[]): ProfileReport {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ops = manifest.ops.map((op, i) => ({ index: op.index, kind: op.kind, macs: op.macs, ticks: median(profiles.map((p) => p.opTicks[i] ?? 0)), share: 0 }));
  const totalTicks = median(profiles.map((p) => p.totalTicks));
  const sum = ops.reduce((s, o) => s + o.ticks, 0) || 1;
  for (const o of ops) o.share = o.ticks / sum;
  const last = profiles[profiles.length - 1];
  return {
    target: manifest.target,
    device,
    runs: profiles.length,
    tickUnit: last.tickUnit,
    totalTicks,
    ops,
    arenaBytes: last.arenaBytes,
    lowerBoundBytes: manifest.lowerBoundBytes,
    stackHighWaterBytes: last.stackHighWaterBytes ?? null,
    flashConstBytes: manifest.constBytes,
  };
}

export function formatProfileReport(r: ProfileReport): string {
  const rows = r.ops.map((o) => [o.index, o.kind, o.macs.toLocaleString('en-US'), o.ticks.toLocaleString('en-US'), `${(o.share * 100).toFixed(1)}%`, o.macs > 0 ? (o.ticks / o.macs).toFixed(2) : '']);
  return [
    `Profile of ${r.target} on ${r.device} (median of ${r.runs} runs; unit: ${r.tickUnit})`,
    formatTable(['#', 'operator', 'MACs', r.tickUnit, 'share', `${r.tickUnit}/MAC`], rows, new Set([0, 2, 3, 4, 5])),
    '',
    `  per inference:     ${r.totalTicks.toLocaleString('en-US')} ${r.tickUnit}`,
    `  SRAM arena:        ${formatBytes(r.arenaBytes)} (planner lower bound ${formatBytes(r.lowerBoundBytes)})`,
    `  stack high-water:  ${r.stackHighWaterBytes === null ? 'not measured on this platform' : formatBytes(r.stackHighWaterBytes)}`,
    `  Flash constants:   ${formatBytes(r.flashConstBytes)}`,
  ].join('\n');
}
