// Text charts for explanations in Markdown reports and the terminal: one bar per row, scaled to the
// largest magnitude, negative values drawn to the left of the axis.

export interface Bar {
  readonly label: string;
  readonly value: number;
  /** Shown after the bar; defaults to the value with 3 decimals. */
  readonly text?: string;
}

const FULL = '█';
const PARTS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

function bar(length: number): string {
  const whole = Math.floor(length);
  const part = Math.round((length - whole) * 8);
  return FULL.repeat(whole) + (part === 8 ? FULL : (PARTS[part] ?? ''));
}

/** A horizontal bar chart, `width` characters for the largest |value|. */
export function barChart(bars: readonly Bar[], width = 30): string[] {
  const max = Math.max(1e-12, ...bars.map((b) => Math.abs(b.value)));
  const labelWidth = Math.max(...bars.map((b) => b.label.length), 1);
  const anyNegative = bars.some((b) => b.value < 0);
  return bars.map((b) => {
    const len = (Math.abs(b.value) / max) * width;
    const text = b.text ?? b.value.toFixed(3);
    const label = b.label.padEnd(labelWidth);
    if (!anyNegative) return `${label} │${bar(len)} ${text}`;
    const left = b.value < 0 ? bar(len) : '';
    const right = b.value >= 0 ? bar(len) : '';
    return `${label} ${left.padStart(width)}│${right.padEnd(width)} ${text}`;
  });
}
