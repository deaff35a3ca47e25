/**
 * What the tests of the narrow-gradient harnesses (grad_narrow.test.ts, grad_int.test.ts) share: the
 * tokens a case line is made of, one run of many cases, and the seeded draws of a case's values.
 */
import { seededUniform } from '../../src/util/random.ts';
import { seededInts, type KernelHarness } from './c_harness.ts';
import { randomNarrow, type Bits, type Narrow } from './grad_narrow_reference.ts';
import type { ConvGeometry, Dims } from './train_reference.ts';

export type Token = string;
export const I = (...v: number[]): Token[] => v.map((x) => String(x));
export const D = (d: Dims): Token[] => I(d.n, d.h, d.w, d.c);
export const NT = (t: Narrow): Token[] => I(t.exp, ...t.q);
export const geometry = (g: ConvGeometry): Token[] => I(g.strideH, g.strideW, g.dilationH, g.dilationW, g.padH, g.padW);

/** Runs the cases in one process of the harness's run mode; each case's line as its tokens. */
export function runTokenCases(harness: KernelHarness, cases: Token[][]): Token[][] {
  const input = [String(cases.length), ...cases.map((c) => c.join(' '))].join('\n') + '\n';
  const lines = harness.run(['run'], input).split('\n').slice(0, cases.length);
  if (lines.length !== cases.length) throw new Error(`expected ${cases.length} output lines, got ${lines.length}`);
  return lines.map((l) => l.trim().split(/\s+/).filter((s) => s !== ''));
}

/**
 * A case's seeded draws: integers, uniforms (their own stream, salted), narrow gradients, and per-channel
 * filter scales in 0.001 + [0, scaleSpan), spanning factors between channels as real models' do.
 */
export function caseDraws(seed: number, uniformSalt: number, scaleSpan: number) {
  const rand = seededInts(seed);
  const u = seededUniform(seed ^ uniformSalt);
  const narrow = (n: number, bits: Bits): Narrow => randomNarrow(rand, n, bits);
  const scales = (n: number) => Array.from({ length: n }, () => Math.fround(0.001 + scaleSpan * u()));
  return { rand, u, narrow, scales };
}
