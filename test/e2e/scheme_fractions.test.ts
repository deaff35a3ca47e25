/**
 * A scheme with mixed channel fractions compiles with exactly the channels it names, whether it comes
 * as a JSON file (what `mcutrain scheme -o` writes), as the inline form mcutrain prints, or as the
 * form the project records; `plan` reports the same channels.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ProjectManifest } from '../../src/project/manifest.ts';
import { parseScheme, schemeToJson, schemeToString } from '../../src/train/scheme.ts';
import { cli } from '../helpers/cli.ts';
import { model, tempDir } from '../helpers/paths.ts';

// vww96: layer 24 is a pointwise CONV_2D with 256 output channels, as is layer 26.
const SCHEME = { biasLast: 1, weights: [{ layer: 24, fraction: 1 }, { layer: 26, fraction: 0.25 }], qas: true, momentum: 0, lr: 0.05 };
const EXPECTED = [[24, 256, 256], [26, 64, 256]];

function compiledChannels(scheme: string, out: string): number[][] {
  const r = cli('compile', model('vww96_int8.tflite'), '--train', scheme, '--target', 'host', '--patches', 'off', '-o', out);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const m = JSON.parse(readFileSync(path.join(out, 'mcutrain.json'), 'utf8')) as ProjectManifest;
  return m.training!.params.filter((p) => p.kind === 'weights').map((p) => [p.layer, p.channels, p.totalChannels]);
}

describe('a scheme with mixed channel fractions', () => {
  it('compiles with the channel counts it names, from JSON, from the printed inline form and from the recorded form', () => {
    const dir = tempDir('fractions');
    const file = path.join(dir, 'scheme.json');
    writeFileSync(file, schemeToJson(SCHEME));
    expect(compiledChannels(file, path.join(dir, 'json'))).toEqual(EXPECTED);

    const printed = schemeToString(parseScheme(file));
    expect(compiledChannels(printed, path.join(dir, 'inline'))).toEqual(EXPECTED);

    const recorded = (JSON.parse(readFileSync(path.join(dir, 'json', 'mcutrain.json'), 'utf8')) as ProjectManifest).training!.scheme;
    expect(recorded).toBe(printed);
    expect(compiledChannels(recorded, path.join(dir, 'recorded'))).toEqual(EXPECTED);

    const json = path.join(dir, 'plan.json');
    const p = cli('plan', model('vww96_int8.tflite'), '--train', file, '--target', 'host', '--patches', 'off', '--json-out', json);
    expect(p.code).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { trained: { layer: number; weights: string }[] };
    expect(report.trained.filter((l) => l.weights !== 'frozen').map((l) => [l.layer, l.weights])).toEqual([[24, '256/256 channels'], [26, '64/256 channels']]);
  });
});
