/** The report's HTML pieces: escaping, KiB figures, tables (numbers right-aligned, grouped by thousands). */

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Bytes as KiB with one decimal, as the report's text and labels write them. */
export const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

type Cell = string | number;

export function table(headers: string[], rows: Cell[][], cls = ''): string {
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const cell = (tag: string, c: Cell, i: number) => `<${tag}${numeric[i] ? ' class="n"' : ''}>${escapeHtml(typeof c === 'number' ? c.toLocaleString('en-US') : c)}</${tag}>`;
  return [
    `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${headers.map((h, i) => cell('th', h, i)).join('')}</tr></thead><tbody>`,
    ...rows.map((r) => `<tr>${r.map((c, i) => cell('td', c, i)).join('')}</tr>`),
    '</tbody></table>',
  ].join('\n');
}
