/**
 * Test oracle for int8 SOFTMAX: TensorFlow Lite Micro's reference kernel (reference_ops::Softmax
 * with gemmlowp's exp_on_negative_values, one_over_one_plus_x_for_x_in_0_1 and TFLite's
 * GetReciprocal), transcribed from those sources in gemmlowp's own formulation: a fixed-point value
 * carries its integer bits, and multiplication and rescaling derive the format as gemmlowp's
 * templates do. Exact integers throughout (the shared int8_reference primitives); test-only.
 */
import { doublingHighMul, roundingShiftRight } from './int8_reference.ts';

const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);

/** gemmlowp FixedPoint<int32_t, bits>: real value = raw / 2^(31 - bits). */
interface Fixed { raw: number; bits: number }

const fx = (raw: number, bits: number): Fixed => ({ raw, bits });
/** gemmlowp's One(): exactly 1, or the largest raw value where 1 is out of range (0 integer bits). */
const one = (bits: number): Fixed => fx(bits === 0 ? INT32_MAX : 2 ** (31 - bits), bits);
/** Products add integer bits. */
const mul = (a: Fixed, b: Fixed): Fixed => fx(doublingHighMul(a.raw, b.raw), a.bits + b.bits);
const add = (a: Fixed, b: Fixed): Fixed => { if (a.bits !== b.bits) throw new Error('format mismatch'); return fx(a.raw + b.raw, a.bits); };
const sub = (a: Fixed, b: Fixed): Fixed => add(a, fx(-b.raw, b.bits));

/** SaturatingRoundingMultiplyByPOT<e>: saturating left shift for e > 0, rounding right shift for e < 0. */
function mulByPot(raw: number, e: number): number {
  if (e === 0) return raw;
  if (e < 0) return roundingShiftRight(raw, -e);
  const threshold = 2 ** (31 - e) - 1;
  return raw > threshold ? INT32_MAX : raw < -threshold ? INT32_MIN : raw * 2 ** e;
}

/** Rescale<bits>: the same real value in another format. */
const rescale = (a: Fixed, bits: number): Fixed => fx(mulByPot(a.raw, a.bits - bits), bits);

/** exp(a) for a in [-1/4, 0), Q0: the 4th-order Taylor expansion around -1/8. */
function expOnQuarterInterval(a: Fixed): Fixed {
  const expMinusEighth = fx(1895147668, 0);
  const oneThird = fx(715827883, 0);
  const x = add(a, fx(2 ** 28, 0)); // a + 1/8
  const x2 = mul(x, x);
  const x3 = mul(x2, x);
  const x4 = mul(x2, x2);
  const x4Over4 = fx(mulByPot(x4.raw, -2), 0);
  const poly = fx(mulByPot(add(mul(add(x4Over4, x3), oneThird), x2).raw, -1), 0);
  return add(expMinusEighth, mul(expMinusEighth, add(x, poly)));
}

/** exp_on_negative_values: exp(a) in Q0 for a <= 0 in any format. */
function expOnNegativeValues(a: Fixed): Fixed {
  const fractional = 31 - a.bits;
  const quarter = 2 ** (fractional - 2);
  const aModQuarterMinusQuarter = fx((a.raw & (quarter - 1)) - quarter, a.bits);
  let result = expOnQuarterInterval(rescale(aModQuarterMinusQuarter, 0));
  const remainder = sub(aModQuarterMinusQuarter, a).raw;
  const multipliers: [number, number][] = [[-2, 1672461947], [-1, 1302514674], [0, 790015084], [1, 290630308], [2, 39332535], [3, 720401], [4, 242]];
  for (const [exponent, multiplier] of multipliers) {
    if (a.bits > exponent && (remainder & 2 ** (fractional + exponent)) !== 0) result = mul(result, fx(multiplier, 0));
  }
  if (a.bits > 5 && a.raw < -(2 ** (36 - a.bits))) result = fx(0, 0);
  return a.raw === 0 ? one(0) : result;
}

/** one_over_one_plus_x_for_x_in_0_1: Newton-Raphson on the half denominator, in Q2. */
function oneOverOnePlusX(a: Fixed): Fixed {
  const sum = a.raw + one(0).raw;
  const halfDenominator = fx(Math.trunc((sum + (sum >= 0 ? 1 : -1)) / 2), 0); // RoundingHalfSum
  let x = add(fx(1515870810, 2), mul(halfDenominator, fx(-1010580540, 2)));
  for (let i = 0; i < 3; i++) {
    const oneMinus = sub(one(2), mul(halfDenominator, x));
    x = add(x, rescale(mul(x, oneMinus), 2));
  }
  return rescale(fx(x.raw, 1), 0); // ExactMulByPot<-1> then Rescale<0>
}

/** exp of a Q5.26 difference in Q0 (exp_on_negative_values), as the raw int32. */
export const expOfScaledDiffQ0 = (raw: number): number => expOnNegativeValues(fx(raw, 5)).raw;

/** TFLite's GetReciprocal of a positive Q12 sum: 1/sum = reciprocal (Q0 raw) * 2^-bitsOverUnit. */
export function reciprocalOfQ12(sum: number): { reciprocal: number; bitsOverUnit: number } {
  const headroomPlusOne = Math.clz32(sum);
  const shiftedSumMinusOne = fx(((sum * 2 ** headroomPlusOne) % 2 ** 32) - 2 ** 31, 0);
  return { reciprocal: oneOverOnePlusX(shiftedSumMinusOne).raw, bitsOverUnit: 12 - headroomPlusOne };
}

/** The reference kernel on one row: parameters as lowered (multiplier, left shift, diff_min). */
export function softmaxRowReference(row: number[], multiplier: number, leftShift: number, diffMin: number): number[] {
  const max = Math.max(-128, ...row);
  const scaled = (q: number): Fixed => {
    // MultiplyByQuantizedMultiplierGreaterThanOne: (x * 2^shift) * multiplier, doubled high half
    const diff = q - max;
    return fx(doublingHighMul(diff * 2 ** leftShift, multiplier), 5);
  };
  let sum = fx(0, 12);
  for (const q of row) if (q - max >= diffMin) sum = add(sum, rescale(expOnNegativeValues(scaled(q)), 12));
  const headroomPlusOne = Math.clz32(sum.raw);
  const numBitsOverUnit = sum.bits - headroomPlusOne;
  const shiftedSumMinusOne = fx(((sum.raw * 2 ** headroomPlusOne) % 2 ** 32) - 2 ** 31, 0);
  const reciprocal = oneOverOnePlusX(shiftedSumMinusOne);
  const exponent = numBitsOverUnit + 31 - 8;
  return row.map((q) => {
    if (q - max < diffMin) return -128;
    const unsaturated = roundingShiftRight(mul(reciprocal, expOnNegativeValues(scaled(q))).raw, exponent);
    return Math.min(127, Math.max(-128, unsaturated - 128));
  });
}
