/**
 * Whether a build fits its target, and what would make it fit: the one verdict that compile, plan and
 * scheme print (and plan writes in its JSON), for inference and training builds alike. SRAM is the
 * planner's (arena, trained parameters, momentum, stack, link buffers, operator ticks) and the runtime's
 * measured variables, at least what the linked image takes; Flash is the model's constants, without the
 * code, so `mcutrain build` remains the final word on Flash.
 */
import { McutrainError } from '../errors.ts';
import type { Numerics } from '../lower/numerics.ts';
import { extraMacsShare, parsePatchMode, type PatchStage } from '../plan/patch_stage.ts';
import { listTargets, loadTarget, mcuOf, type Target } from '../targets/target.ts';
import { buffersAtPeak, runtimeSram, stackInSram, type SramBudget } from '../train/memory_report.ts';
import type { TrainingScheme } from '../train/scheme.ts';
import { analyzeModel, buildSram, fitWithin, type AnalyzeOptions, type Analysis } from '../pipeline/pipeline.ts';
import { trainingCallName } from '../train/analyze_training.ts';
import { flashConstBytes } from '../plan/flash.ts';

export interface FitVerdict {
  target: string;
  fits: boolean;
  /** Planned SRAM; capacity null on the host (no limit). */
  sram: SramBudget & { capacityBytes: number | null };
  /** The model's constants in Flash (code comes on top); capacity null on the host. */
  flash: { constBytes: number; capacityBytes: number | null };
  /** One line: what fits in what, or what does not. */
  summary: string;
  /** When it does not fit: what it takes, and the largest buffers at the peak. */
  details?: string;
  /** When it does not fit: changes that would make it fit (each checked), or help. */
  remedies: string[];
}

/** What was analysed, so the verdict can try the alternatives (patches) on the same model; without it they are not tried. */
export interface FitSubject {
  bytes: Uint8Array;
  name: string;
  numerics?: Numerics;
  scheme?: TrainingScheme;
  options?: AnalyzeOptions;
}

/** A target that exists only as QEMU's board (the MPS2 FPGA images): a last resort for a real device. */
const emulated = (t: Target) => t.qemu !== undefined && (t.flashMethods ?? []).every((m) => m === 'qemu');
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const capacities = (t: Target) => (t.kind === 'mcu' ? { sram: mcuOf(t).sram.bytes, flash: mcuOf(t).flash.bytes } : { sram: null, flash: null });

export function fitVerdict(a: Analysis, target: Target, subject?: FitSubject): FitVerdict {
  const cap = capacities(target);
  const sram = buildSram(a, target);
  const constBytes = flashConstBytes(a.training?.graph ?? a.graph, [...a.calls, ...(a.training?.backwardCalls ?? [])]);
  const sramOver = cap.sram !== null && sram.totalBytes > cap.sram;
  const flashOver = cap.flash !== null && constBytes > cap.flash;
  const what = a.training ? 'the training build' : 'the inference build';
  const verdict: FitVerdict = {
    target: target.name, fits: !sramOver && !flashOver, sram: { ...sram, capacityBytes: cap.sram }, flash: { constBytes, capacityBytes: cap.flash },
    summary: '', remedies: [],
  };
  if (cap.sram === null || cap.flash === null) {
    verdict.summary = `fits ${target.name} (a host: no SRAM or Flash limit); planned SRAM ${kib(sram.totalBytes)}, Flash constants ${kib(constBytes)}`;
    return verdict;
  }
  const share = (n: number, of: number) => `${kib(n)} of ${kib(of)} (${((n / of) * 100).toFixed(1)}%)`;
  if (verdict.fits) {
    verdict.summary = `fits ${target.name}: SRAM ${share(sram.totalBytes, cap.sram)}, Flash constants ${share(constBytes, cap.flash)}`;
    return verdict;
  }
  const problems = [
    ...(sramOver ? [`${sram.totalBytes} B of SRAM but ${target.name} has ${cap.sram} B (${kib(sram.totalBytes - cap.sram)} too much)`] : []),
    ...(flashOver ? [`${constBytes} B of constants in Flash but ${target.name} has ${cap.flash} B (${kib(constBytes - cap.flash)} too much)`] : []),
  ];
  verdict.summary = `does not fit ${target.name}: ${what} needs ${problems.join(', and ')}`;
  if (sramOver) verdict.details = sramDetails(a, sram);
  verdict.remedies = remedies(a, target, subject, verdict);
  return verdict;
}

/** The verdict as an error when it does not fit. */
export function requireFit(v: FitVerdict): void {
  if (v.fits) return;
  throw new McutrainError(`${v.summary}${v.details ? `. ${v.details}` : ''}`, v.remedies.join('; or '));
}

function sramDetails(a: Analysis, s: SramBudget): string {
  const t = a.training;
  const plan = t?.plan ?? a.plan;
  const graph = t?.graph ?? a.graph;
  const name = t ? (step: number) => trainingCallName(t, step) : (step: number) => `op ${a.schedule[step]?.op} ${a.graph.operators[a.schedule[step]?.op]?.kind ?? ''}`;
  const top = buffersAtPeak(graph, plan, name).slice(0, 5).map((b) => `${b.label} ${b.bytes} B (steps ${b.firstStep}..${b.lastStep})`).join('; ');
  const arena = t
    ? `arena ${s.arenaBytes} B (training peak ${t.plan.arenaBytes} B at step ${plan.peakStep}, lower bound ${plan.lowerBoundBytes} B; inference ${a.plan.arenaBytes} B); ` +
      `trained parameters ${s.paramBytes} B; momentum ${s.momentumBytes} B`
    : `arena ${s.arenaBytes} B (peak at step ${plan.peakStep}, lower bound ${plan.lowerBoundBytes} B)`;
  return `It takes ${arena}; stack ${s.stackBytes} B; link buffers ${s.linkBytes} B; runtime ${s.runtimeBytes} B. Largest buffers at the peak: ${top}`;
}

/** Changes that would make `a` fit, each priced by the planner; ones that only help say so. */
function remedies(a: Analysis, target: Target, subject: FitSubject | undefined, v: FitVerdict): string[] {
  const out: string[] = [];
  const capSram = v.sram.capacityBytes!;
  const sramOver = v.sram.totalBytes > capSram;
  if (subject && sramOver && !a.patches && parsePatchMode(subject.options?.patches, subject.scheme !== undefined) === 'off') {
    const patched = analyzeModel(subject.bytes, subject.name, subject.numerics, subject.scheme, { ...subject.options, patches: 'auto' });
    const need = buildSram(patched, target).totalBytes;
    if (patched.patches && need < v.sram.totalBytes) {
      const how = (mode: string, p: PatchStage) => `--patches ${mode} (the first ${p.ops.length} operators as ${p.grid}x${p.grid} patches)`;
      const macs = (p: PatchStage) => `recomputing ${(extraMacsShare(p) * 100).toFixed(2)}% of the forward pass's MACs`;
      if (need > capSram) out.push(`${how('auto', patched.patches)} lowers SRAM to ${kib(need)}, not enough alone`);
      else {
        out.push(`${how('auto', patched.patches)} needs ${kib(need)} of SRAM, which fits, ${macs(patched.patches)}`);
        // The smallest arena may recompute far more than fitting needs.
        const fit = analyzeModel(subject.bytes, subject.name, subject.numerics, subject.scheme, { ...subject.options, patches: 'fit', fitWithin: fitWithin(target) });
        if (fit.patches && fit.patches.extraMacs < patched.patches.extraMacs) {
          out.push(`${how('fit', fit.patches)} needs ${kib(buildSram(fit, target).totalBytes)} of SRAM, which fits, ${macs(fit.patches)}`);
        }
      }
    }
  }
  const t = a.training;
  if (sramOver && t) {
    const excess = v.sram.totalBytes - capSram;
    if (t.momentumBytes >= excess) out.push(`drop momentum (--momentum 0): ${kib(v.sram.totalBytes - t.momentumBytes)} of SRAM, which fits`);
    // No scheme trains in less than inference takes (the arena is the larger of the two).
    const floor = v.sram.totalBytes - v.sram.arenaBytes - t.paramBytes - t.momentumBytes + a.plan.arenaBytes;
    if (floor < capSram) {
      out.push(`a smaller scheme (fewer or later layers, smaller channel fractions): mcutrain scheme --budget ${Math.floor(capSram / 1024)}KiB --target ${target.name} picks the best that fits`);
    } else {
      out.push(`no training scheme fits ${target.name}: inference alone takes ${kib(floor)} with this schedule`);
    }
  }
  if (v.flash.constBytes > v.flash.capacityBytes!) {
    out.push('int4 weights for the frozen layers (mcutrain quantize --weights int4 --keep-int8 last:N) take about half the Flash');
  }
  const bigger = listTargets().map((n) => loadTarget(n)).filter((o) => o.kind === 'mcu' && o.name !== target.name).filter((o) => {
    const c = capacities(o);
    const sram = v.sram.totalBytes - v.sram.stackBytes - v.sram.runtimeBytes + stackInSram(o) + runtimeSram(o, a.training);
    return sram <= c.sram! && v.flash.constBytes <= c.flash!;
  }).sort((x, y) => Number(emulated(x)) - Number(emulated(y)) || capacities(x).sram! - capacities(y).sram!);
  if (bigger.length > 0) {
    out.push(`a target with more memory: ${bigger.slice(0, 3).map((o) => `${o.name} (${kib(capacities(o).sram!)} SRAM${emulated(o) ? ', emulated only' : ''})`).join(', ')}`);
  }
  return out;
}
