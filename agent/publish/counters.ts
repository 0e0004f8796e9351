// Turns the ingest pipeline's stats (agent/ingest/pipeline.ts) into the telemetry `counters` block
// (docs/mqtt.md §telemetry). The pipeline counts samples lost but not how many gaps lost them, so the
// tracker also listens to its notices and counts sample-index gaps.

import type { IngestNotice, IngestStats } from '../ingest/pipeline.ts';
import type { TelemetryCounters } from './telemetry.ts';

export class IngestCounterTracker {
  #gaps = 0;
  #samplesMissing = 0;

  /** Pass every IngestPipeline notice (its third constructor argument) through here. */
  onNotice(n: IngestNotice): void {
    if (n.kind === 'sampleGap') {
      this.#gaps++;
      this.#samplesMissing += Math.max(0, n.lost);
    }
  }

  get gaps(): number {
    return this.#gaps;
  }

  /** Totals since start, for one telemetry message. */
  snapshot(stats: IngestStats): TelemetryCounters {
    let samples = 0;
    for (const n of Object.values(stats.stream.samples)) samples += n;
    // CSV mode: one sample instant per good line.
    samples += Math.max(0, stats.csv.lines - stats.csv.badLines);
    return {
      framesDecoded: stats.decoder.frames + stats.csv.lines,
      framesInvalid: stats.decoder.invalidTotal + stats.csv.badLines,
      samples,
      gaps: this.#gaps,
      samplesMissing: Math.max(stats.stream.samplesLostTotal, this.#samplesMissing),
      windows: stats.windows,
    };
  }
}
