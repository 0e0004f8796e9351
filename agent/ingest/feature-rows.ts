// Feature vectors from a serial byte stream, offline (`edgeloop features`, docs/features.md "Exporting
// feature vectors"): the same ingest pipeline `edgeloop decode` and the live agent run (binary frames or
// CSV lines, loss accounting, windowing, integrity checks), then the one feature pipeline, so an engineer
// who trains elsewhere gets exactly the vectors the agent will feed the model.

import { fail, ok, type Result } from '../../shared/errors.ts';
import { createFeaturePipeline, type FeaturePipeline } from '../../shared/features/pipeline.ts';
import type { SensorDescriptor } from '../../shared/sensors.ts';
import { IngestPipeline } from './pipeline.ts';

export interface FeatureRowsOptions {
  readonly mode?: 'auto' | 'binary' | 'csv';
  readonly csvChannels?: readonly string[];
  /** CSV captures carry no arrival times: lines are spaced 1/csvRateHz apart. Default 1000. */
  readonly csvRateHz?: number;
  /** Window length (and hop), ms. Default 1000, as the agent. */
  readonly windowMs?: number;
  /** Keep windows whose integrity status is 'fail' (a broken sensor). Default false: they are skipped. */
  readonly keepFailed?: boolean;
  /** Default createFeaturePipeline(): the default parameters the agent runs. */
  readonly pipeline?: FeaturePipeline;
}

export interface FeatureRow {
  readonly deviceId: string;
  readonly startUs: number;
  /** float32 feature vector in featureNames order. */
  readonly values: Float32Array;
}

export interface FeatureRowsResult {
  /** The pipeline's names for the board's sensors (from its HELLO, or the CSV channels). */
  readonly featureNames: readonly string[];
  /** Kept rows, in time order. */
  readonly rows: readonly FeatureRow[];
  readonly windows: number;
  readonly kept: number;
  readonly skipped: { readonly integrityFail: number; readonly imputed: number };
}

function sameSensors(a: readonly SensorDescriptor[], b: readonly SensorDescriptor[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Decodes a byte stream (a capture file, or a simulated board's wire bytes) into one feature row per clean
 * window. Windows with an imputed channel (too little data for some sensor) are skipped, as are integrity
 * failures unless keepFailed. A board that changes its sensors mid-stream is an error: one CSV has one
 * header. EDGELOOP_ERR_INPUT_READ when the stream yields no window at all.
 */
export async function featureRows(
  source: AsyncIterable<Uint8Array>,
  options: FeatureRowsOptions = {},
): Promise<Result<FeatureRowsResult>> {
  const pipeline = options.pipeline ?? createFeaturePipeline();
  const stepUs = 1e6 / (options.csvRateHz ?? 1000);
  let clockUs = 0;
  let sensors: readonly SensorDescriptor[] | undefined;
  let featureNames: readonly string[] = [];
  let problem: Result<never> | undefined;
  const rows: FeatureRow[] = [];
  const counts = { windows: 0, kept: 0, integrityFail: 0, imputed: 0 };
  const ingest = new IngestPipeline(
    {
      mode: options.mode ?? 'auto',
      windowMs: options.windowMs ?? 1000,
      ...(options.csvChannels === undefined ? {} : { csvChannels: options.csvChannels }),
      nowUs: () => (clockUs += stepUs),
    },
    (w) => {
      if (problem !== undefined) return;
      counts.windows++;
      const device = ingest.device;
      if (device === undefined) return;
      if (sensors === undefined) {
        sensors = device.sensors;
        featureNames = pipeline.featureNames(sensors);
      } else if (!sameSensors(sensors, device.sensors)) {
        problem = fail(
          'EDGELOOP_ERR_INPUT_READ',
          `the board changed its sensors at window ${counts.windows}; one feature CSV holds one board's features (split the capture)`,
        );
        return;
      }
      if (w.integrity.status === 'fail' && options.keepFailed !== true) {
        counts.integrityFail++;
        return;
      }
      const fv = pipeline.computeDetailed(w, sensors);
      if (fv.invalidChannels.length > 0) {
        counts.imputed++;
        return;
      }
      counts.kept++;
      rows.push({ deviceId: w.deviceId, startUs: w.startUs, values: fv.values });
    },
  );
  for await (const chunk of source) {
    if (problem !== undefined) break;
    ingest.push(chunk);
  }
  ingest.flush();
  if (problem !== undefined) return problem;
  if (counts.windows === 0 || sensors === undefined)
    return fail(
      'EDGELOOP_ERR_INPUT_READ',
      'no complete window in the input: is it a capture of the serial port (try `edgeloop decode` on it)?',
    );
  return ok({
    featureNames,
    rows,
    windows: counts.windows,
    kept: counts.kept,
    skipped: { integrityFail: counts.integrityFail, imputed: counts.imputed },
  });
}
