/** train --report: the loss and accuracy of the run just made, drawn in the project's report. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseHTML } from 'linkedom';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, makeProject } from '../cli/fake_train_project.ts';

let root: string;
let project: string;

beforeAll(async () => {
  ({ root, project } = await makeProject('report-train'));
});

describe('mcutrain train --report', () => {
  it('writes the run\'s curves and per-epoch figures, the same as its --json', () => {
    const json = path.join(root, 'run.json');
    const html = path.join(root, 'run.html');
    const r = cli('train', project, '--data', path.join(root, 'train'), '--val', path.join(root, 'val'), '--epochs', '3', '--json', json, '--report', html);
    expect(r.code, r.err).toBe(0);
    const log = JSON.parse(readFileSync(json, 'utf8')) as { before: { accuracy: number }; epochs: { trainLoss: number; valAccuracy: number }[] };
    const d = parseHTML(readFileSync(html, 'utf8')).document;
    const rows = [...d.querySelectorAll('#training table tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
    // the validation score before the first step, then each epoch's
    expect(rows.map((row) => [row[0], row[1], row[4]])).toEqual([
      ['0 (before)', '-', `${(log.before.accuracy * 100).toFixed(1)}%`],
      ...log.epochs.map((e, i) => [String(i + 1), e.trainLoss.toFixed(4), `${(e.valAccuracy * 100).toFixed(1)}%`]),
    ]);
    const charts = [...d.querySelectorAll('#training svg')].filter((s) => Number(s.getAttribute('width')) > 100);
    expect(charts.length).toBe(2);
    // on the accuracy chart: validation from epoch 0 (drawn first: its point comes first), train from epoch 1
    const points = [...charts[1].querySelectorAll('g[aria-label="line"] path')].map((p) => (p.getAttribute('d')!.match(/[ML]/g) ?? []).length);
    expect(points).toEqual([4, 3]);
    // the hand-made project's manifest is not what its model plans to: the report says so and shows the plan made again
    expect(r.err).toMatch(/the plan made again for '.*' has a \d+ B training arena, the project 0 B/);
    expect(d.querySelector('#memory-timeline')).not.toBeNull();
  });
});
