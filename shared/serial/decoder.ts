// Streaming frame decoder: splits a byte stream on 0x00, undoes COBS, checks the CRC and parses the frame.
// The buffer is bounded (STYLE.md habit 4): bytes that run past the longest legal frame without a
// delimiter are discarded and counted, and the decoder realigns on the next 0x00.

import type { ErrorCode, Failure } from '../errors.ts';
import { fail } from '../errors.ts';
import { cobsDecodeInto, cobsEncodeInto, cobsMaxEncodedLength } from './cobs.ts';
import { encodeFrame, MAX_FRAME_BYTES, parseFrame, type Frame, type ReceivedFrame } from './frames.ts';

export const MAX_ENCODED_FRAME_BYTES = cobsMaxEncodedLength(MAX_FRAME_BYTES);

export type DecodeEvent =
  { readonly ok: true; readonly frame: ReceivedFrame } | (Failure & { readonly bytes: number });

export interface DecoderCounters {
  bytes: number;
  /** Intact frames (valid CRC and version), of known types or not. */
  frames: number;
  /** Invalid frames by error code. */
  invalid: Partial<Record<ErrorCode, number>>;
  invalidTotal: number;
  /** Times the decoder lost alignment and found it again (a run of invalid frames counts once). */
  resyncs: number;
  /** Bytes that did not end up in a valid frame. */
  bytesDiscarded: number;
}

export class FrameDecoder {
  private readonly buf: Uint8Array;
  /** COBS output; parseFrame copies what it keeps, so one scratch buffer serves every frame. */
  private readonly scratch: Uint8Array;
  private len = 0;
  /** True while discarding an over-long run until the next delimiter. */
  private skipping = false;
  private inSync = true;
  readonly counters: DecoderCounters = {
    bytes: 0,
    frames: 0,
    invalid: {},
    invalidTotal: 0,
    resyncs: 0,
    bytesDiscarded: 0,
  };

  constructor(private readonly maxEncodedBytes = MAX_ENCODED_FRAME_BYTES) {
    this.buf = new Uint8Array(maxEncodedBytes);
    this.scratch = new Uint8Array(maxEncodedBytes);
  }

  /** Feeds bytes; calls `onEvent` for every frame and every invalid frame, in stream order. */
  push(chunk: Uint8Array, onEvent: (e: DecodeEvent) => void): void {
    this.counters.bytes += chunk.length;
    let start = 0;
    while (start < chunk.length) {
      const zero = chunk.indexOf(0, start);
      const end = zero === -1 ? chunk.length : zero;
      const n = end - start;
      if (this.skipping) {
        this.counters.bytesDiscarded += n;
      } else if (this.len + n > this.maxEncodedBytes) {
        const dropped = this.len + n;
        this.counters.bytesDiscarded += dropped;
        this.len = 0;
        this.skipping = true;
        this.invalid('EDGELOOP_ERR_FRAME_TOO_LONG', dropped, onEvent);
      } else {
        this.buf.set(chunk.subarray(start, end), this.len);
        this.len += n;
      }
      if (zero === -1) break;
      start = zero + 1;
      // Clear state before the callback runs, so a throwing callback cannot leave a stale frame behind.
      const held = this.len;
      this.len = 0;
      if (this.skipping) this.skipping = false;
      // An empty block (two delimiters in a row) is the idle/realign marker, not an invalid frame.
      else if (held > 0) this.completeFrame(held, onEvent);
    }
  }

  /** Bytes held that have not yet met a delimiter. */
  get pending(): number {
    return this.len;
  }

  /** Forgets a partial frame, e.g. after the port was reopened. */
  reset(): void {
    this.len = 0;
    this.skipping = false;
  }

  private completeFrame(n: number, onEvent: (e: DecodeEvent) => void): void {
    const m = cobsDecodeInto(this.buf.subarray(0, n), this.scratch);
    if (m < 0) {
      this.counters.bytesDiscarded += n;
      this.invalid('EDGELOOP_ERR_FRAME_COBS', n, onEvent);
      return;
    }
    const r = parseFrame(this.scratch.subarray(0, m));
    if (!r.ok) {
      this.counters.bytesDiscarded += n;
      this.invalid(r.code, n, onEvent, r);
      return;
    }
    this.counters.frames++;
    this.inSync = true;
    onEvent({ ok: true, frame: r.value });
  }

  private invalid(code: ErrorCode, bytes: number, onEvent: (e: DecodeEvent) => void, f?: Failure): void {
    this.counters.invalidTotal++;
    this.counters.invalid[code] = (this.counters.invalid[code] ?? 0) + 1;
    if (this.inSync) {
      this.counters.resyncs++;
      this.inSync = false;
    }
    const failure = f ?? fail(code);
    onEvent({ ...failure, bytes });
  }
}

/** Encodes a frame for the wire: COBS(frame) followed by the 0x00 delimiter. */
export function encodeWireFrame(frame: Frame): Uint8Array {
  const raw = encodeFrame(frame);
  const out = new Uint8Array(cobsMaxEncodedLength(raw.length) + 1);
  const n = cobsEncodeInto(raw, out, 0);
  out[n] = 0;
  return out.subarray(0, n + 1);
}
