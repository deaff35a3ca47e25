/**
 * Charts rendered on the server to SVG text with Observable Plot (axes, ticks, scales and <title>
 * tooltips done by a maintained library, not by string building). Plot needs a DOM to build into;
 * linkedom gives it one without a browser.
 */
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';

export type PlotOptions = Omit<Plot.PlotOptions, 'document'>;

/** One chart as an SVG (or, with a legend, a <figure>) element's markup. */
export function plotSvg(options: PlotOptions): string {
  const { document } = parseHTML('<!doctype html><html><body></body></html>');
  const chart = Plot.plot({ ...options, document: document as unknown as Document });
  // inline in HTML the namespace is implied; a chart written as an .svg file needs it
  if (chart.tagName.toLowerCase() === 'svg') chart.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  return chart.outerHTML;
}

/** A scale of byte values shown in KiB, so that its ticks fall on round numbers. */
export const BYTES_AS_KIB = { label: 'KiB', transform: (bytes: number) => bytes / 1024 };

export { Plot };
