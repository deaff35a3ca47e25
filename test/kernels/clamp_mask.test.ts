/**
 * The 1-bit clamp mask kernels (clamp_mask.c): mt_clamp_mask_pack_s8 and mt_mask_apply_f32 against the
 * TypeScript reference of their contract on random data weighted towards the clamp bounds, for n
 * that is and is not a multiple of 8; the C harness's own checks (a hand-worked example, and pack +
 * apply zeroing exactly what the unpacked mt_clamp_mask_f32 zeroes) under ASan/UBSan.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKernelHarness, seededInts, type KernelHarness } from './c_harness.ts';
import { maskPasses, packClampMask } from './clamp_mask_reference.ts';
import { bitsOf } from './train_reference.ts';

const PACK = 1, APPLY = 2, GUARD = 0xa5;

let harness: KernelHarness;
beforeAll(() => { harness = buildKernelHarness('clamp_mask', ['clamp_mask', 'train_loss'], ['-ffp-contract=off']); });
afterAll(() => harness?.cleanup());

function run(cases: (number | string)[][]): string[][] {
  const input = [String(cases.length), ...cases.map((c) => c.join(' '))].join('\n') + '\n';
  const lines = harness.run(['run'], input).split('\n').slice(0, cases.length);
  expect(lines).toHaveLength(cases.length);
  return lines.map((l) => l.trim().split(/\s+/).filter((s) => s !== ''));
}

const rand = seededInts(0x6d61736b);
/** An int8 output: a third of the time at a bound, some just inside, some outside the range (int8 saturation vs a fused ReLU). */
function output(actMin: number, actMax: number): number {
  switch (rand(0, 5)) {
    case 0: return actMin;
    case 1: return actMax;
    case 2: return rand(0, 1) ? Math.min(actMin + 1, 127) : Math.max(actMax - 1, -128);
    case 3: return rand(-128, 127);
    default: return rand(actMin, actMax);
  }
}
const RANGES = [[-128, 127], [-128, 0], [-5, 127], [-128, 6], [-20, -19], [3, 90]];
const LENGTHS = [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1003, 2048];
const cases = LENGTHS.flatMap((n, k) => RANGES.map(([actMin, actMax], r) => {
  const out = Array.from({ length: n }, () => output(actMin, actMax));
  // Distinct non-zero gradients (negative zero among them), so a wrongly zeroed or kept element shows.
  const grad = Array.from({ length: n }, (_, i) => (i % 13 === 5 ? -0 : Math.fround((i + 1) * ((k + r) % 2 ? -0.37 : 0.61))));
  return { n, actMin, actMax, out, grad };
}));

describe('1-bit clamp masks', () => {
  it('passes the harness checks (hand example, pack + apply == mt_clamp_mask_f32)', () => {
    expect(harness.run([])).toContain('PASS clamp_mask');
  });

  it('packs the mask bits LSB first, high bits of the last byte 0, nothing written past it', () => {
    const got = run(cases.map((c) => [PACK, c.n, c.actMin, c.actMax, ...c.out]));
    let passing = 0, clamped = 0;
    cases.forEach((c, k) => {
      const want = packClampMask(c.out, c.actMin, c.actMax);
      expect(got[k].map(Number), `n ${c.n} [${c.actMin}, ${c.actMax}]`).toEqual([...want, GUARD]);
      const last = want[want.length - 1];
      if (c.n % 8 !== 0) expect(last >> (c.n % 8)).toBe(0);
      c.out.forEach((_, i) => (maskPasses(want, i) ? passing++ : clamped++));
    });
    // The data reach both sides of the condition, at both bounds.
    expect(passing).toBeGreaterThan(1000);
    expect(clamped).toBeGreaterThan(1000);
    const atBound = cases.reduce((s, c) => s + c.out.filter((v) => v === c.actMin || v === c.actMax).length, 0);
    expect(atBound).toBeGreaterThan(1000);
  });

  it('applies the bits: the gradient zeroed exactly where the bit is 0, kept bit for bit elsewhere', () => {
    // Arbitrary bytes (not only masks the packer makes), the last byte's unused bits set too: they must be ignored.
    const applied = cases.map((c) => ({ ...c, bits: Array.from({ length: Math.ceil(c.n / 8) }, () => rand(0, 255)) }));
    const got = run(applied.map((c) => [APPLY, c.n, ...c.bits, ...c.grad.map((g) => bitsOf(g).toString(16))]));
    applied.forEach((c, k) => {
      const want = c.grad.map((g, i) => (maskPasses(c.bits, i) ? bitsOf(g) : 0));
      expect(got[k].map((h) => parseInt(h, 16)), `n ${c.n}`).toEqual(want);
    });
  });
});
