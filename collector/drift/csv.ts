// A streaming parser for numeric CSV (a header row of column names, then one number per cell), fed byte
// chunks as they are read, filling one growable Float64Array per wanted column. It is the hot path of
// `edgeloop drift` (100 columns x 100k rows in seconds), so it scans bytes and parses numbers itself:
// when a number has at most 15 significant digits and a power of ten up to 22, mantissa / 10^k is
// correctly rounded (Clinger's fast path), so the value equals Number(text); anything else falls back to
// Number(text). Empty cells and NaN/Infinity are kept as non-finite values (counted, never scored).
// Pure: no I/O (cli/drift.ts reads the file).

import { fail, ok, type Failure, type Result } from '../../shared/errors.ts';

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
const COMMA = 44;
const LF = 10;
const CR = 13;

export interface NumericCsv {
  readonly columns: readonly string[];
  /** Values per column, rows in file order. */
  readonly values: readonly Float64Array[];
  readonly rows: number;
}

export class NumericCsvParser {
  private readonly label: string;
  private readonly wanted: readonly string[] | null;
  private rest: Buffer = Buffer.alloc(0);
  private line = 0;
  private header: string[] | null = null;
  /** For each CSV column, the output column it fills, or -1. */
  private target: Int32Array = new Int32Array(0);
  private outNames: string[] = [];
  private out: Float64Array[] = [];
  private rows = 0;
  private error: Failure | null = null;

  /** `wanted`: columns to keep (all when null); `label` names the input in error messages. */
  constructor(label: string, wanted: readonly string[] | null = null) {
    this.label = label;
    this.wanted = wanted;
  }

  /** Feeds a chunk; returns a failure (and ignores later input) at the first bad cell. */
  push(chunk: Uint8Array): Failure | null {
    if (this.error !== null) return this.error;
    const buf =
      this.rest.length > 0
        ? Buffer.concat([this.rest, chunk])
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    const lastLf = buf.lastIndexOf(LF);
    if (lastLf < 0) {
      this.rest = Buffer.from(buf);
      return null;
    }
    this.parseLines(buf, 0, lastLf + 1);
    this.rest = Buffer.from(buf.subarray(lastLf + 1));
    return this.error;
  }

  /** Ends the input: parses a last line without a newline and returns the columns. */
  end(): Result<NumericCsv> {
    if (this.error === null && this.rest.length > 0) {
      const last = Buffer.concat([this.rest, Buffer.from([LF])]);
      this.rest = Buffer.alloc(0);
      this.parseLines(last, 0, last.length);
    }
    if (this.error !== null) return this.error;
    if (this.header === null) return fail('EDGELOOP_ERR_DRIFT_CSV_EMPTY', `${this.label}: no header row`);
    if (this.rows === 0) return fail('EDGELOOP_ERR_DRIFT_CSV_EMPTY', `${this.label}: no data rows`);
    return ok({
      columns: this.outNames,
      values: this.out.map((a) => a.subarray(0, this.rows)),
      rows: this.rows,
    });
  }

  private setHeader(text: string): void {
    const names = text.split(',').map((s) => s.trim().replace(/^"(.*)"$/, '$1'));
    const seen = new Set<string>();
    for (const n of names) {
      if (seen.has(n)) {
        this.error = fail(
          'EDGELOOP_ERR_DRIFT_CSV',
          `${this.label}: column "${n}" appears twice in the header`,
        );
        return;
      }
      seen.add(n);
    }
    const keep = this.wanted ?? names;
    const missing = keep.filter((n) => !seen.has(n));
    if (missing.length > 0) {
      this.error = fail(
        'EDGELOOP_ERR_DRIFT_COLUMN_MISSING',
        `${this.label}: no column ${missing.map((n) => `"${n}"`).join(', ')} (header has ${names.length} columns: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''})`,
      );
      return;
    }
    this.header = names;
    this.target = Int32Array.from(names, (n) => keep.indexOf(n));
    this.outNames = [...keep];
    this.out = keep.map(() => new Float64Array(1024));
  }

  private grow(): void {
    this.out = this.out.map((a) => {
      const b = new Float64Array(a.length * 2);
      b.set(a);
      return b;
    });
  }

  private parseLines(buf: Buffer, from: number, to: number): void {
    let start = from;
    while (start < to && this.error === null) {
      let end = buf.indexOf(LF, start);
      if (end < 0 || end >= to) end = to;
      this.line++;
      let lineEnd = end;
      if (lineEnd > start && buf[lineEnd - 1] === CR) lineEnd--;
      if (lineEnd > start) {
        if (this.header === null) this.setHeader(buf.toString('utf8', start, lineEnd));
        else this.parseRow(buf, start, lineEnd);
      }
      start = end + 1;
    }
  }

  private parseRow(buf: Buffer, start: number, end: number): void {
    const header = this.header as string[];
    if (this.rows === (this.out[0]?.length ?? Infinity)) this.grow();
    let col = 0;
    let cellStart = start;
    for (let i = start; i <= end; i++) {
      if (i < end && buf[i] !== COMMA) continue;
      if (col >= header.length) break;
      const t = this.target[col] as number;
      if (t >= 0) {
        const v = parseCell(buf, cellStart, i);
        if (v === undefined) {
          this.error = fail(
            'EDGELOOP_ERR_DRIFT_CSV',
            `${this.label} line ${this.line}, column "${header[col] ?? ''}": "${buf.toString('utf8', cellStart, Math.min(i, cellStart + 40))}" is not a number`,
          );
          return;
        }
        (this.out[t] as Float64Array)[this.rows] = v;
      }
      col++;
      cellStart = i + 1;
    }
    let cells = 1;
    for (let i = start; i < end; i++) if (buf[i] === COMMA) cells++;
    if (cells !== header.length) {
      this.error = fail(
        'EDGELOOP_ERR_DRIFT_CSV',
        `${this.label} line ${this.line}: ${cells} cells, the header has ${header.length}`,
      );
      return;
    }
    this.rows++;
  }
}

/** A cell's number; NaN for an empty cell or NaN/Infinity; undefined for anything else. */
function parseCell(buf: Buffer, start: number, end: number): number | undefined {
  let i = start;
  while (i < end && buf[i] === 32) i++;
  let e = end;
  while (e > i && buf[e - 1] === 32) e--;
  if (i === e) return Number.NaN;
  let neg = false;
  if (buf[i] === 45 || buf[i] === 43) {
    neg = buf[i] === 45;
    i++;
  }
  let mant = 0;
  let digits = 0;
  let exp10 = 0;
  let c = buf[i] as number;
  while (i < e && c >= 48 && c <= 57) {
    mant = mant * 10 + (c - 48);
    digits++;
    c = buf[++i] as number;
  }
  if (i < e && c === 46) {
    c = buf[++i] as number;
    while (i < e && c >= 48 && c <= 57) {
      mant = mant * 10 + (c - 48);
      digits++;
      exp10--;
      c = buf[++i] as number;
    }
  }
  if (digits > 0 && i < e && (c === 101 || c === 69)) {
    c = buf[++i] as number;
    let eneg = false;
    if (c === 45 || c === 43) {
      eneg = c === 45;
      c = buf[++i] as number;
    }
    let ex = 0;
    let ed = 0;
    while (i < e && c >= 48 && c <= 57) {
      ex = ex * 10 + (c - 48);
      ed++;
      c = buf[++i] as number;
    }
    if (ed === 0) return undefined;
    exp10 += eneg ? -ex : ex;
  }
  if (digits > 0 && i === e && digits <= 15 && exp10 >= -22 && exp10 <= 22) {
    const v = exp10 < 0 ? mant / (POW10[-exp10] as number) : mant * (POW10[exp10] as number);
    return neg ? -v : v;
  }
  // Slow path: long mantissas, big exponents, NaN, Infinity; anything Number() rejects is not a number.
  const text = buf.toString('latin1', start, end).trim();
  const word = text.toLowerCase().replace(/^\+/, '');
  if (word === 'nan' || word === '-nan') return Number.NaN;
  if (word === 'inf' || word === 'infinity') return Infinity;
  if (word === '-inf' || word === '-infinity') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}
