// uPlot in a preact component: the chart is built once per series layout and fed new data after, and it
// follows its container's width. Colours come from a palette that is also told apart by dash pattern.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html } from './lib.js';

export const palette = [
  '#1f6feb',
  '#d9480f',
  '#2f9e44',
  '#9c36b5',
  '#e8590c',
  '#0c8599',
  '#5c940d',
  '#c2255c',
];
const dashes = [[], [6, 3], [2, 3], [10, 4, 2, 4]];

/** A series style: colour and dash from its index, so lines differ in more than colour. */
export function line(label, i, extra = {}) {
  return { label, stroke: palette[i % palette.length], width: 2, dash: dashes[i % dashes.length], ...extra };
}

/**
 * props: title (the accessible name), data (uPlot's columns: x then one array per series), series
 * (without the x one), options (merged into uPlot's), height.
 */
export function Chart({ title, data, series, options = {}, height = 220, summary }) {
  const box = useRef(null);
  const plot = useRef(null);
  const layout = JSON.stringify(series.map((s) => s.label)) + JSON.stringify(options.scales ?? {});
  useEffect(() => {
    const el = box.current;
    const width = Math.max(280, el.clientWidth);
    plot.current = new uPlot(
      { width, height, legend: { live: false }, ...options, series: [{}, ...series] },
      data,
      el,
    );
    const ro = new ResizeObserver(() =>
      plot.current?.setSize({ width: Math.max(280, el.clientWidth), height }),
    );
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [layout, height]);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);
  return html`<figure class="chart">
    <figcaption>${title}</figcaption>
    <div ref=${box} role="img" aria-label=${summary ?? title}></div>
  </figure>`;
}

/** Bars for a histogram-like series (uPlot's bars path). */
export const bars = (i, extra = {}) => ({
  ...line('', i),
  paths: uPlot.paths.bars({ size: [0.9, 60] }),
  fill: `${palette[i % palette.length]}55`,
  ...extra,
});

/** Steps (a state over time). */
export const steps = (label, i) => ({ ...line(label, i), paths: uPlot.paths.stepped({ align: 1 }) });
