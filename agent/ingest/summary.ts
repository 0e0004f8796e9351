// Accumulates what a capture contained: per-channel statistics over every windowed sample and counts of
// integrity flags, for `edgeloop decode` and the end-of-run summary.

import type { Window } from '../../shared/samples.ts';
import type { IngestStats } from './pipeline.ts';

interface Acc {
  n: number;
  mean: number;
  m2: number;
  min: number;
  max: number;
  nan: number;
}

export interface ChannelStats {
  readonly n: number;
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
  readonly nan: number;
}

export class CaptureSummary {
  private readonly channels = new Map<string, Acc>();
  /** "channel check status" -> windows flagged. */
  private readonly flags = new Map<string, number>();
  windows = 0;
  windowsByStatus = { good: 0, suspect: 0, fail: 0 };
  device: string | undefined;

  add(w: Window): void {
    this.windows++;
    this.device = w.deviceId;
    this.windowsByStatus[w.integrity.status]++;
    for (const f of w.integrity.flags) {
      const k = `${f.channel}\t${f.check}\t${f.status}`;
      this.flags.set(k, (this.flags.get(k) ?? 0) + 1);
    }
    for (const c of w.channels) {
      let a = this.channels.get(c.channel);
      if (a === undefined) {
        a = { n: 0, mean: 0, m2: 0, min: Infinity, max: -Infinity, nan: 0 };
        this.channels.set(c.channel, a);
      }
      for (const v of c.values) {
        if (!Number.isFinite(v)) {
          a.nan++;
          continue;
        }
        a.n++;
        const d = v - a.mean;
        a.mean += d / a.n;
        a.m2 += d * (v - a.mean);
        if (v < a.min) a.min = v;
        if (v > a.max) a.max = v;
      }
    }
  }

  channelStats(): Record<string, ChannelStats> {
    const out: Record<string, ChannelStats> = {};
    for (const [k, a] of this.channels) {
      out[k] = {
        n: a.n,
        mean: a.mean,
        std: a.n > 1 ? Math.sqrt(a.m2 / (a.n - 1)) : 0,
        min: a.min,
        max: a.max,
        nan: a.nan,
      };
    }
    return out;
  }

  flagCounts(): { channel: string; check: string; status: string; windows: number }[] {
    return [...this.flags.entries()].map(([k, windows]) => {
      const [channel = '', check = '', status = ''] = k.split('\t');
      return { channel, check, status, windows };
    });
  }

  toJSON(stats: IngestStats): Record<string, unknown> {
    return {
      // Every frame not used, by code: invalid on the wire (decoder) or intact but unusable (stream).
      droppedByCode: droppedByCode(stats),
      samplesDroppedByCode: stats.stream.samplesDropped,
      unknownFrameTypes: stats.stream.framesUnknownType,
      device: this.device ?? null,
      mode: stats.mode,
      bytes: stats.decoder.bytes,
      frames: stats.decoder.frames,
      invalidFrames: stats.decoder.invalidTotal,
      invalidByCode: stats.decoder.invalid,
      crcErrors: stats.decoder.invalid.EDGELOOP_ERR_FRAME_CRC ?? 0,
      resyncs: stats.decoder.resyncs,
      bytesDiscarded: stats.decoder.bytesDiscarded,
      framesMissing: stats.stream.framesMissing,
      samples: stats.stream.samples,
      samplesLost: stats.stream.samplesLost,
      samplesLostTotal: stats.stream.samplesLostTotal,
      hellos: stats.stream.hellos,
      reboots: stats.stream.reboots,
      deviceDroppedSamples: stats.stream.deviceDroppedSamples,
      csv: stats.csv,
      windows: this.windows,
      windowsByIntegrity: this.windowsByStatus,
      integrityFlags: this.flagCounts(),
      channels: this.channelStats(),
    };
  }

  toText(stats: IngestStats): string {
    const j = this.toJSON(stats);
    const lines: string[] = [];
    lines.push(`device          ${String(j.device)}  (mode ${String(j.mode)})`);
    lines.push(`bytes           ${stats.decoder.bytes}`);
    lines.push(
      `frames          ${stats.decoder.frames} valid, ${stats.decoder.invalidTotal} invalid (CRC ${String(j.crcErrors)}), ${stats.decoder.resyncs} resyncs`,
    );
    const dropped = Object.entries(droppedByCode(stats));
    if (dropped.length > 0)
      lines.push(`dropped         ${dropped.map(([code, n]) => `${code} ${n}`).join(', ')}`);
    lines.push(
      `loss            ${stats.stream.framesMissing} frames missing by seq, ${stats.stream.samplesLostTotal} samples lost by index`,
    );
    const samples = Object.entries(stats.stream.samples).map(
      ([k, v]) => `${k} ${v}${stats.stream.samplesLost[k] ? ` (-${stats.stream.samplesLost[k]})` : ''}`,
    );
    if (samples.length > 0) lines.push(`samples         ${samples.join(', ')}`);
    if (stats.mode === 'csv')
      lines.push(
        `csv             ${stats.csv.lines} lines, ${stats.csv.badLines} bad, rate ${stats.csv.rateHz.toFixed(1)} Hz measured`,
      );
    lines.push(
      `windows         ${this.windows} (good ${this.windowsByStatus.good}, suspect ${this.windowsByStatus.suspect}, fail ${this.windowsByStatus.fail})`,
    );
    const flags = this.flagCounts();
    if (flags.length > 0) {
      lines.push('', 'integrity flags (windows)');
      for (const f of flags.sort((a, b) => b.windows - a.windows).slice(0, 20)) {
        lines.push(`  ${f.channel.padEnd(14)} ${f.check.padEnd(10)} ${f.status.padEnd(8)} ${f.windows}`);
      }
    }
    const ch = this.channelStats();
    if (Object.keys(ch).length > 0) {
      lines.push(
        '',
        `${'channel'.padEnd(14)} ${'n'.padStart(9)} ${'mean'.padStart(11)} ${'std'.padStart(11)} ${'min'.padStart(11)} ${'max'.padStart(11)}`,
      );
      for (const [k, s] of Object.entries(ch)) {
        const f = (x: number): string => x.toPrecision(5).padStart(11);
        lines.push(
          `${k.padEnd(14)} ${String(s.n).padStart(9)} ${f(s.mean)} ${f(s.std)} ${f(s.min)} ${f(s.max)}`,
        );
      }
    }
    return lines.join('\n') + '\n';
  }
}

/** Frames not used, by error code: the decoder's invalid frames plus the intact frames the stream dropped. */
export function droppedByCode(stats: IngestStats): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of [stats.decoder.invalid, stats.stream.framesDropped])
    for (const [code, n] of Object.entries(m)) if (n > 0) out[code] = (out[code] ?? 0) + n;
  return out;
}
