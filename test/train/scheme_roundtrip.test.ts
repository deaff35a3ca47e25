/**
 * A scheme means the same in every spelling: the inline form mcutrain prints and records, the JSON
 * `mcutrain scheme -o` writes, and the scheme resolveScheme hands to the compiler (with overrides).
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { McutrainError } from '../../src/errors.ts';
import { resolveScheme } from '../../src/project/compile_project.ts';
import { CHANNEL_FRACTIONS, parseScheme, schemeToJson, schemeToString, type TrainingScheme } from '../../src/train/scheme.ts';
import { rng } from '../helpers/random.ts';
import { tempDir } from '../helpers/paths.ts';

/** A random valid scheme in its canonical form (what validateScheme returns): every field the spellings can carry. */
function randomScheme(next: () => number): TrainingScheme {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)];
  const layers = [...new Set(Array.from({ length: Math.floor(next() * 7) }, () => Math.floor(next() * 61) - 30))];
  const biasLast = layers.length === 0 || next() < 0.5 ? 1 + Math.floor(next() * 30) : 0;
  const lr = next();
  const grad = pick([undefined, 'i16', 'i8'] as const);
  return {
    biasLast,
    // A fraction of the output channels, or (below 1, the output channels whole) of the input channels.
    weights: layers.map((layer) => (next() < 0.3 ? { layer, fraction: 1, inputFraction: pick(CHANNEL_FRACTIONS.slice(0, 3)) } : { layer, fraction: pick(CHANNEL_FRACTIONS) })),
    qas: next() < 0.5,
    momentum: next() < 0.3 ? 0 : next() * 0.999,
    lr: lr < 0.2 ? 0.05 : lr < 0.3 ? next() * 1e-7 : lr < 0.35 ? next() * 1e22 : next() * 2,
    ...(grad ? { grad } : {}),
  };
}

describe('scheme spellings', () => {
  it('a whole layer before a fractional one keeps its own fraction (inline, JSON, resolved)', () => {
    const s: TrainingScheme = { biasLast: 0, weights: [{ layer: 2, fraction: 1 }, { layer: 8, fraction: 0.25 }], qas: true, momentum: 0, lr: 0.05 };
    expect(schemeToString(s)).toBe('weights:layers=2@1,8@1/4,qas=on,lr=0.05');
    expect(parseScheme(schemeToString(s))).toEqual(s);
    const file = path.join(tempDir('scheme'), 'scheme.json');
    writeFileSync(file, schemeToJson(s));
    expect(parseScheme(file)).toEqual(s);
    expect(resolveScheme({ scheme: file })).toEqual(s);
    expect(resolveScheme({ scheme: file, momentum: 0.9, lr: 0.01 })).toEqual({ ...s, momentum: 0.9, lr: 0.01 });
    expect(resolveScheme({ scheme: s })).toEqual(s);
  });

  it('round-trips random schemes exactly through the inline form and through JSON', () => {
    const next = rng(13);
    const seen = { inputFraction: 0, grad: 0, momentum: 0, exponent: 0 };
    for (let i = 0; i < 500; i++) {
      const s = randomScheme(next);
      const inline = schemeToString(s);
      expect(parseScheme(inline)).toEqual(s);
      expect(parseScheme(schemeToJson(s))).toEqual(s);
      expect(resolveScheme({ scheme: inline })).toEqual(s);
      expect(resolveScheme({ scheme: schemeToJson(s) })).toEqual(s);
      expect(schemeToString(parseScheme(schemeToJson(s)))).toBe(inline);
      seen.inputFraction += s.weights.some((w) => w.inputFraction !== undefined) ? 1 : 0;
      seen.grad += s.grad ? 1 : 0;
      seen.momentum += s.momentum > 0 ? 1 : 0;
      seen.exponent += /e/.test(inline) ? 1 : 0;
    }
    // The generator reaches every field (not a test of the scheme; of the test).
    for (const count of Object.values(seen)) expect(count).toBeGreaterThan(20);
  });

  it.each([
    ['weights:layers=21,24@1/4', [[21, 0.25], [24, 0.25]]],
    ['weights:layers=21,24@0.25', [[21, 0.25], [24, 0.25]]],
    ['weights:layers=3@1/2,7', [[3, 0.5], [7, 1]]],
    ['weights:layers=-1,-2@1/4', [[-1, 0.25], [-2, 0.25]]],
    ['weights:layers=2@1,6,8@1/8', [[2, 1], [6, 0.125], [8, 0.125]]],
  ])('still reads the documented form %j', (text, layers) => {
    expect(parseScheme(text).weights).toEqual(layers.map(([layer, fraction]) => ({ layer, fraction })));
  });

  it.each([
    ['{"weights": [{"layer": 3, "fracton": 0.5}]}', /unknown field\(s\) fracton/],
    ['{"bias": {"last": 2}, "qas": "no"}', /"qas" must be true or false/],
    ['{"bias": 2}', /"bias" must be \{ "last": K \}/],
    ['{"bias": {"last": "2"}}', /bias.last must be a number/],
    ['{"weights": [3]}', /each entry of "weights" must be/],
    ['{"weights": [{"fraction": 0.5}]}', /the "weights" entry \{"fraction":0.5\} has no "layer"/],
    ['{"weights": [{"layer": 3, "fraction": "1/3"}]}', /fraction 0.333.* of layer 3 is not one of/],
    ['weights:layers=3,3@1/2', /names the weights of layer 3 twice/],
    ['weights:layers=3@1/2@1/4', /cannot read '3@1\/2@1\/4'/],
    ['bias:last=x', /bias:last 'x' in the training scheme is not a number/],
    ['bias:last=2.5', /bias:last=2.5 must be a whole number/],
    ['bias:last=1,lr=0x10', /lr '0x10' in the training scheme is not a number/], // as --lr 0x10 is refused
    ['bias:last=0x2', /bias:last '0x2' in the training scheme is not a number/],
    ['weights:layers=2@0x1', /channel fraction "0x1" of layer 2 is not one of/],
    ['bias:last=1,lr=0.1,lr=0.2', /gives lr twice/],
    ['bias:last=1,weights:layers=3,weights:layers=4@1/2', /gives weights twice/],
    ['{"weights": [{"layer": 3, "fracton": 0.5}]}', /did you mean "fraction"/],
    ['bias:last=1,momentun=0.9', /cannot read 'momentun=0.9'[\s\S]*did you mean momentum/],
    ['bias:last=1,grad=I16', /grad must be one of f32, i16, i8, not 'I16'/],
  ])('rejects %j, naming the problem', (text, message) => {
    expect(() => parseScheme(text)).toThrow(McutrainError);
    let error: McutrainError | undefined;
    try {
      parseScheme(text);
    } catch (e) {
      error = e as McutrainError;
    }
    expect(`${error!.message}\n${error!.hint ?? ''}`).toMatch(message);
  });
});
