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

/** A dashed vertical line at x (the chosen point), drawn after the series. */
function drawMarker(u, x) {
  if (x === null || x === undefined) return;
  const cx = u.valToPos(x, 'x', true);
  const { ctx, bbox } = u;
  ctx.save();
  ctx.strokeStyle = '#111';
  ctx.lineWidth = uPlot.pxRatio;
  ctx.setLineDash([4 * uPlot.pxRatio, 3 * uPlot.pxRatio]);
  ctx.beginPath();
  ctx.moveTo(cx, bbox.top);
  ctx.lineTo(cx, bbox.top + bbox.height);
  ctx.stroke();
  ctx.restore();
}

/**
 * props: title (the accessible name), data (uPlot's columns: x then one array per series), series
 * (without the x one), options (merged into uPlot's), height; onPick(index) when a click lands on the plot
 * (the point nearest the cursor), marker (an x value to mark with a vertical line).
 */
export function Chart({ title, data, series, options = {}, height = 220, summary, onPick, marker }) {
  const box = useRef(null);
  const plot = useRef(null);
  // The latest handler and marker, read by the chart built once per layout.
  const pick = useRef(onPick);
  const mark = useRef(marker);
  pick.current = onPick;
  mark.current = marker;
  const layout = JSON.stringify(series.map((s) => s.label)) + JSON.stringify(options.scales ?? {});
  useEffect(() => {
    const el = box.current;
    const width = Math.max(280, el.clientWidth);
    const hooks = {
      ...options.hooks,
      draw: [...(options.hooks?.draw ?? []), (u) => drawMarker(u, mark.current)],
    };
    const u = new uPlot(
      { width, height, legend: { live: false }, ...options, hooks, series: [{}, ...series] },
      data,
      el,
    );
    plot.current = u;
    if (pick.current) u.over.style.cursor = 'pointer';
    u.over.addEventListener('click', () => {
      if (u.cursor.idx !== null && u.cursor.idx !== undefined) pick.current?.(u.cursor.idx);
    });
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
  useEffect(() => {
    plot.current?.redraw(false, false);
  }, [marker]);
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
