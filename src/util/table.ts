/** Plain-text tables for terminal reports. */

export type Cell = string | number;

export function formatTable(headers: string[], rows: Cell[][], rightAlign: Set<number> = new Set()): string {
  const text = rows.map((r) => r.map(String));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (rightAlign.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  return `${n.toLocaleString('en-US')} B (${(n / 1024).toFixed(1)} KiB)`;
}
