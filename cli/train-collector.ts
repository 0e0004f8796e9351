// `edgeloop train --collector <url>` (issue 10 §2 "edgeloop train gains the dataset sources ... through
// the same code path"): reads the captured windows of --devices over [--from, --to) and the operator
// labels from the collector's HTTP API, into the shapes the collector's retraining child uses
// (collector/retrain: CapturedWindow, LabelInterval), so both build the dataset with buildRetrainRows.
//
//   GET /api/v1/devices/:id/windows?from&to&limit=1000   pages: `truncated` → from = last tsMs + 1
//   GET /api/v1/labels?deviceId&from&to

import { capturedDigest, type CapturedWindow, type LabelInterval } from '../collector/index.ts';
import { EdgeloopError, errorCatalogue } from '../shared/errors.ts';

export interface CollectorSource {
  readonly url: string;
  readonly devices: readonly string[];
  readonly fromMs: number;
  readonly toMs: number;
  readonly token: string | undefined;
}

export interface CollectorData {
  readonly featureNames: readonly string[] | null;
  readonly windows: CapturedWindow[];
  readonly devices: {
    readonly deviceId: string;
    readonly windows: number;
    readonly firstMs: number | null;
    readonly lastMs: number | null;
    readonly digest: string;
  }[];
  readonly labels: (LabelInterval & { readonly id: string })[];
}

interface WindowJson {
  readonly deviceId: string;
  readonly tsMs: number;
  readonly features: Readonly<Record<string, number | null>>;
  readonly prediction: {
    readonly label: string;
    readonly probabilities: Readonly<Record<string, number>>;
  } | null;
}

const PAGE = 1000;

async function getJson(src: CollectorSource, path: string): Promise<unknown> {
  const url = `${src.url.replace(/\/+$/, '')}/api/v1${path}`;
  let res: Response;
  try {
    res = await fetch(
      url,
      src.token === undefined ? {} : { headers: { authorization: `Bearer ${src.token}` } },
    );
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new EdgeloopError('EDGELOOP_ERR_TRAINING_COLLECTOR_UNREACHABLE', `${url}: ${cause}`);
  }
  const text = await res.text();
  if (!res.ok) {
    let detail = text.slice(0, 300);
    try {
      const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
      if (e?.message !== undefined) detail = `${e.message} [${e.code ?? ''}]`;
    } catch {
      // not our JSON: keep the body's start
    }
    throw new EdgeloopError(
      'EDGELOOP_ERR_TRAINING_COLLECTOR_UNREACHABLE',
      `${url}: HTTP ${res.status}: ${detail}`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new EdgeloopError(
      'EDGELOOP_ERR_TRAINING_COLLECTOR_UNREACHABLE',
      `${url}: not JSON. ${errorCatalogue.EDGELOOP_ERR_TRAINING_COLLECTOR_UNREACHABLE}`,
    );
  }
}

/** Every window of the devices over the range and the labels overlapping it. */
export async function fetchCollectorData(
  src: CollectorSource,
  onDevice?: (deviceId: string, windows: number) => void,
): Promise<CollectorData> {
  const windows: CapturedWindow[] = [];
  const devices: CollectorData['devices'] = [];
  let featureNames: readonly string[] | null = null;
  for (const deviceId of src.devices) {
    const mine: CapturedWindow[] = [];
    let from = src.fromMs;
    for (;;) {
      const q = `from=${from}&to=${src.toMs}&limit=${PAGE}`;
      const page = (await getJson(src, `/devices/${encodeURIComponent(deviceId)}/windows?${q}`)) as {
        truncated?: boolean;
        windows?: WindowJson[];
      };
      const list = page.windows ?? [];
      for (const w of list) {
        const names = Object.keys(w.features);
        featureNames ??= names;
        // Another layout (another pipeline) cannot be a row of this dataset.
        if (names.join('\n') !== featureNames.join('\n')) continue;
        const p = w.prediction;
        mine.push({
          deviceId,
          tsMs: w.tsMs,
          values: names.map((n) => w.features[n] ?? null),
          prediction: p === null ? null : { label: p.label, confidence: p.probabilities[p.label] ?? 0 },
        });
      }
      const last = list.at(-1);
      if (page.truncated !== true || last === undefined) break;
      from = last.tsMs + 1;
    }
    windows.push(...mine);
    devices.push({
      deviceId,
      windows: mine.length,
      firstMs: mine[0]?.tsMs ?? null,
      lastMs: mine.at(-1)?.tsMs ?? null,
      digest: capturedDigest(mine),
    });
    onDevice?.(deviceId, mine.length);
  }
  const labels: CollectorData['labels'] = [];
  for (const deviceId of src.devices) {
    const q = `deviceId=${encodeURIComponent(deviceId)}&from=${src.fromMs}&to=${src.toMs}&limit=10000`;
    const r = (await getJson(src, `/labels?${q}`)) as {
      labels?: { id: string; deviceId: string; state: string; fromMs: number; toMs: number }[];
    };
    for (const l of r.labels ?? [])
      labels.push({ id: l.id, deviceId: l.deviceId, state: l.state, fromMs: l.fromMs, toMs: l.toMs });
  }
  return { featureNames, windows, devices, labels };
}
