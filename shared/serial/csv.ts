// CSV line mode: one line of comma- or tab-separated numbers per sample, as printed by boards that feed
// Edge Impulse's data forwarder. Lines end in \n (a preceding \r is ignored). Channel names come from
// config; the sample rate is measured from arrival times by the agent, not guessed from line counts.

import { fail, ok, type Result } from '../errors.ts';

export const MAX_CSV_LINE_BYTES = 1024;

// Plain decimal numbers only: Number() would also take "0x1f", "0b1" and "" (as 0), which no board means.
const decimal = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
// What printf and Arduino's Serial.print emit for non-finite floats.
const nonFinite: Readonly<Record<string, number>> = {
  nan: Number.NaN,
  '-nan': Number.NaN,
  '+nan': Number.NaN,
  inf: Number.POSITIVE_INFINITY,
  '+inf': Number.POSITIVE_INFINITY,
  '-inf': Number.NEGATIVE_INFINITY,
  infinity: Number.POSITIVE_INFINITY,
  '+infinity': Number.POSITIVE_INFINITY,
  '-infinity': Number.NEGATIVE_INFINITY,
};

/** Parses one field; undefined when it is not a number. */
export function parseCsvNumber(field: string): number | undefined {
  const p = field.trim();
  if (decimal.test(p)) return Number(p);
  return nonFinite[p.toLowerCase()];
}

/**
 * Parses one line into numbers. Empty lines and lines starting with '#' are comments (null). NaN and
 * infinities are kept as values: judging them is the integrity checks' job, not the parser's.
 */
export function parseCsvLine(line: string, expectedColumns?: number): Result<Float64Array> | null {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return null;
  const parts = trimmed.split(/[,\t]/);
  if (expectedColumns !== undefined && parts.length !== expectedColumns) {
    return fail('EDGELOOP_ERR_CSV_LINE', `${parts.length} columns, expected ${expectedColumns}`);
  }
  const out = new Float64Array(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as string;
    const v = parseCsvNumber(p);
    if (v === undefined) {
      return fail(
        'EDGELOOP_ERR_CSV_LINE',
        `column ${i + 1} is not a number: ${JSON.stringify(p.trim().slice(0, 20))}`,
      );
    }
    out[i] = v;
  }
  return ok(out);
}

/**
 * Splits a byte stream into lines (without the \n; a trailing \r is removed) with a bounded buffer.
 * Over-long lines are dropped whole and counted in `overlong`. Bytes are decoded as UTF-8 once the line is
 * complete, so a multi-byte character split across chunks survives.
 */
export class LineSplitter {
  private readonly buf: Uint8Array;
  private len = 0;
  private skipping = false;
  private readonly text = new TextDecoder('utf-8');
  overlong = 0;

  constructor(private readonly maxLineBytes = MAX_CSV_LINE_BYTES) {
    this.buf = new Uint8Array(maxLineBytes);
  }

  /** Bytes held that have not yet met a newline. */
  get pending(): number {
    return this.len;
  }

  push(chunk: Uint8Array, onLine: (line: string) => void): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.skipping) {
        if (this.len + end - start > this.maxLineBytes) {
          this.overlong++;
          this.skipping = true;
          this.len = 0;
        } else {
          this.buf.set(chunk.subarray(start, end), this.len);
          this.len += end - start;
        }
      }
      if (nl === -1) break;
      start = nl + 1;
      const held = this.len;
      const skipped = this.skipping;
      this.len = 0;
      this.skipping = false;
      if (!skipped) {
        const n = held > 0 && this.buf[held - 1] === 0x0d ? held - 1 : held;
        onLine(this.text.decode(this.buf.subarray(0, n)));
      }
    }
  }

  /** Forgets a partial line, e.g. after the port was reopened. */
  reset(): void {
    this.len = 0;
    this.skipping = false;
  }
}

export type StreamMode = 'binary' | 'csv';

const isText = (b: number): boolean => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d;

/**
 * Guesses the stream mode from the first bytes the host received (pass the whole head seen so far; call
 * again with more bytes while it returns null). The rule, in order (docs/serial-protocol.md §Mode detection):
 * 1. any 0x00 byte: binary (CSV text never holds NUL; every binary frame ends in one);
 * 2. fewer than `minBytes` bytes: undecided (null);
 * 3. more than 2% of bytes outside printable ASCII/tab/CR/LF: binary (the tolerance absorbs a boot
 *    banner's noise or a UTF-8 comment);
 * 4. at least one newline: CSV;
 * 5. no newline yet: undecided until MAX_CSV_LINE_BYTES bytes, then binary (no CSV line is that long).
 */
export function detectStreamMode(head: Uint8Array, minBytes = 64): StreamMode | null {
  let text = 0;
  let newlines = 0;
  for (const b of head) {
    if (b === 0x00) return 'binary';
    if (b === 0x0a) newlines++;
    if (isText(b)) text++;
  }
  if (head.length < minBytes) return null;
  if (text < head.length * 0.98) return 'binary';
  if (newlines > 0) return 'csv';
  return head.length > MAX_CSV_LINE_BYTES ? 'binary' : null;
}
