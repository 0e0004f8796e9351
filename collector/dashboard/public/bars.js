// Horizontal bar charts drawn with CSS: one row per item with its label and its value as text, so a chart
// reads at any size, from a screen reader as well as by eye. A domain that reaches below zero diverges from
// a zero line (negative to the left, positive to the right); several series share a row as thinner bars
// that differ by fill pattern as well as colour; an optional ± error bar, and vertical reference markers.
import { html, num } from './lib.js';

/** Where v sits across [lo, hi], in percent of the track. */
const at = (v, lo, hi) => (100 * (Math.min(hi, Math.max(lo, v)) - lo)) / (hi - lo || 1);

/**
 * props:
 * - title: the caption; name: a data-chart attribute (for tests and styles)
 * - rows: [{ label, values: number[] (one per series), err?: number[] (± half-widths), flag?: string
 *   (a word shown after the value, e.g. "flagged", and the row is highlighted), note?: string (small text
 *   after the value), title?: string (a tooltip) }]
 * - series: the series' names (a legend when there are two or more)
 * - domain: [lo, hi]; default from the data and its error bars, always including 0
 * - format: a value as text (default num); join: between a row's values in its text (default ' · ')
 * - markers: [{ at, label }] vertical lines across every row (the first solid, the others dashed)
 */
export function Bars({ title, name, rows, series = [''], domain, format = num, markers = [], join = ' · ' }) {
  if (rows.length === 0) return '';
  const ends = rows.flatMap((r) =>
    r.values.flatMap((v, j) => [v - (r.err?.[j] ?? 0), v + (r.err?.[j] ?? 0)]).filter(Number.isFinite),
  );
  const [lo, hi] = domain ?? [Math.min(0, ...ends), Math.max(0, ...ends)];
  const zero = at(0, lo, hi);
  const n = series.length;
  return html`<figure class="chart bars" data-chart=${name}>
    <figcaption>${title}</figcaption>
    ${
      n > 1
        ? html`<p class="bar-legend">
            ${series.map((s, j) => html`<span><i class=${`swatch s${j}`} aria-hidden="true"></i> ${s}</span> `)}
          </p>`
        : ''
    }
    <div class="bar-rows">
      ${rows.map(
        (r) => html`<div class=${`bar-row${r.flag ? ' flagged' : ''}`}>
          <span class="bar-label" title=${r.title}>${r.label}</span>
          <span class="bar-track" style=${`--rows:${n}`} aria-hidden="true">
            ${lo < 0 ? html`<i class="bar-zero" style=${`left:${zero}%`}></i>` : ''}
            ${r.values.map((v, j) => {
              if (!Number.isFinite(v)) return '';
              const a = at(Math.min(0, v), lo, hi);
              const b = at(Math.max(0, v), lo, hi);
              const e = r.err?.[j];
              const top = `top:${(100 * j) / n}%;height:${100 / n}%`;
              return html`<i
                  class=${`bar s${j} ${v < 0 ? 'neg' : 'pos'}`}
                  style=${`left:${a}%;width:${Math.max(0.3, b - a)}%;${top}`}
                ></i
                >${
                  e > 0
                    ? html`<i
                        class="bar-err"
                        style=${`left:${at(v - e, lo, hi)}%;width:${at(v + e, lo, hi) - at(v - e, lo, hi)}%;${top}`}
                      ></i>`
                    : ''
                }`;
            })}
            ${markers.map((m, k) => html`<i class=${`bar-marker m${k}`} style=${`left:${at(m.at, lo, hi)}%`}></i>`)}
          </span>
          <span class="bar-value"
            >${r.values.map((v, j) => `${j > 0 ? join : ''}${format(v)}${r.err?.[j] > 0 ? ` ± ${format(r.err[j])}` : ''}`)}${
              r.flag ? html` <b class="bar-flag">▲ ${r.flag}</b>` : ''
            }${r.note ? html` <small class="muted">${r.note}</small>` : ''}</span
          >
        </div>`,
      )}
    </div>
    ${
      markers.length > 0
        ? html`<p class="bar-legend">
            ${markers.map((m, k) => html`<span><i class=${`marker-key m${k}`} aria-hidden="true"></i> ${m.label}</span> `)}
          </p>`
        : ''
    }
  </figure>`;
}
