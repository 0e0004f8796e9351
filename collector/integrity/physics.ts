// Check 5, physics cross-checks on each window's features (docs/integrity.md §Central checks):
// - gravity: the magnitude of the MEAN acceleration vector, √(x̄² + ȳ² + z̄²), is 1 g. Vibration is
//   zero-mean, so this holds on a running machine as at rest, whereas the mean of |a| grows with vibration
//   (1.24 g measured on the simulator at full load); the tolerance still widens with accel.magnitude.std
//   because a short window's mean of strong vibration is noisier. A dead, mis-scaled or mis-ranged
//   accelerometer breaks it; a stuck axis at its last (plausible) reading does not (the flatline flag does).
// - magnetometer: mag.magnitude.mean inside the Earth-field band plus a machine's stray field.
// - humidity, pressure, temperature: window means inside plausible bands.
// Each subject is persistent (K of N windows, PersistentStatus) like the edge flags.

import type { TelemetryPayload } from '../../shared/mqtt/schemas.ts';
import type { Evidence, QcStatus } from '../monitor/types.ts';
import type { Band, IntegrityMonitorOptions, PhysicsOptions } from './options.ts';
import { PersistentStatus, type PersistenceRule } from './persistence.ts';
import type { CheckInput, DeviceCheck, Verdict } from './types.ts';

export const PHYSICS_CHECK = 'integrity.physics';

interface Measure {
  readonly status: QcStatus;
  /** Built only when a verdict is made (every evaluation), not for every window. */
  readonly evidence: () => Evidence;
}

/** One line from a measure's evidence, built only when a verdict needs it (not for every window). */
function describe(e: Evidence): string {
  const d = e.detail ?? {};
  const x = e.statistic ?? Number.NaN;
  if (e.method === 'physics.gravity') {
    const g = d['gravityG'] as number;
    return `gravity ${g.toFixed(3)} g, ${x.toFixed(3)} g from 1 g (suspect above ${(e.threshold ?? 0).toFixed(3)} g${d['atRest'] === true ? ', at rest' : ''})`;
  }
  const b = d as unknown as Band & { feature: string };
  return `${b.feature} ${x.toFixed(2)} ${e.unit ?? ''} (plausible ${b.suspectMin}..${b.suspectMax}, fail outside ${b.failMin}..${b.failMax})`;
}

type Features = TelemetryPayload['features'];

function inBand(b: Band, x: number): QcStatus {
  if (x < b.failMin || x > b.failMax) return 'fail';
  if (x < b.suspectMin || x > b.suspectMax) return 'suspect';
  return 'good';
}

function bandMeasure(features: Features, feature: string, band: Band, unit: string): Measure | null {
  const x = features[feature];
  if (x === undefined || x === null) return null;
  const status = inBand(band, x);
  const threshold = x < band.suspectMin ? band.suspectMin : band.suspectMax;
  return {
    status,
    evidence: () => ({
      method: 'physics.band',
      statistic: x,
      threshold,
      thresholdOrigin: 'physics',
      unit,
      detail: { feature, ...band },
    }),
  };
}

function gravityMeasure(f: Features, p: PhysicsOptions): Measure | null {
  const x = f['accel.x.mean'];
  const y = f['accel.y.mean'];
  const z = f['accel.z.mean'];
  if (x == null || y == null || z == null) return null;
  const g = Math.hypot(x, y, z);
  const std = f['accel.magnitude.std'] ?? 0;
  const allowance = p.gravityVibrationFactor * std;
  const suspectAt = p.gravitySuspectG + allowance;
  const failAt = p.gravityFailG + allowance;
  const dev = Math.abs(g - 1);
  const status: QcStatus = dev > failAt ? 'fail' : dev > suspectAt ? 'suspect' : 'good';
  const atRest = std < p.restStdG;
  return {
    status,
    evidence: () => ({
      method: 'physics.gravity',
      statistic: dev,
      threshold: suspectAt,
      thresholdOrigin: 'physics',
      effectPhysical: g - 1,
      unit: 'g',
      detail: {
        gravityG: g,
        meanG: [x, y, z],
        magnitudeMeanG: f['accel.magnitude.mean'] ?? null,
        magnitudeStdG: std,
        atRest,
        failAtG: failAt,
      },
    }),
  };
}

interface SubjectState {
  readonly persistence: PersistentStatus;
  last: Measure | null;
}

const SUBJECTS = ['accel', 'mag', 'humidity', 'pressure', 'temperature'] as const;
type Subject = (typeof SUBJECTS)[number];

export class PhysicsCheck implements DeviceCheck {
  readonly subjects = new Map<Subject, SubjectState>();
  readonly #rule: PersistenceRule;
  readonly #p: PhysicsOptions;

  constructor(o: IntegrityMonitorOptions) {
    this.#rule = { windows: o.persistWindows, minWindows: o.persistMinWindows, clear: o.clearWindows };
    this.#p = o.physics;
  }

  #measure(s: Subject, f: Features): Measure | null {
    const p = this.#p;
    switch (s) {
      case 'accel':
        return gravityMeasure(f, p);
      case 'mag':
        return bandMeasure(f, 'mag.magnitude.mean', p.magUt, 'uT');
      case 'humidity':
        return bandMeasure(f, 'humidity.mean', p.humidityPct, '%RH');
      case 'pressure':
        return bandMeasure(f, 'pressure.mean', p.pressureHpa, 'hPa');
      case 'temperature':
        return bandMeasure(f, 'temperature.mean', p.temperatureC, 'degC');
    }
  }

  observe(input: CheckInput): void {
    const m = input.message;
    if (m.kind !== 'telemetry' || !input.newest) return;
    const f = m.payload.features;
    for (const s of SUBJECTS) {
      // An imputed (null) or absent feature says nothing: the edge's gap/nan flags cover a dead channel.
      const r = this.#measure(s, f);
      if (r === null) continue;
      let st = this.subjects.get(s);
      if (st === undefined) {
        st = { persistence: new PersistentStatus(this.#rule), last: null };
        this.subjects.set(s, st);
      }
      st.persistence.push(r.status, m.payload.tsMs);
      // Keep the worst recent measure as evidence while flagged, the latest otherwise.
      if (st.persistence.status === 'good' || r.status !== 'good' || st.last === null) st.last = r;
    }
  }

  /** Status of a sensor's physics check (accel, mag, humidity, ...); good when not judged. */
  status(sensor: string): QcStatus {
    return this.subjects.get(sensor as Subject)?.persistence.status ?? 'good';
  }

  judge(_nowMs: number, out: Verdict[]): void {
    for (const [s, st] of this.subjects) {
      const status = st.persistence.status;
      const last = st.last;
      if (status === 'good') {
        out.push({
          check: PHYSICS_CHECK,
          subject: s,
          status,
          summary: `${s}: physically plausible`,
          evidence: last === null ? [] : [last.evidence()],
          cause: null,
          action: 'none',
        });
        continue;
      }
      const ev = last === null ? null : last.evidence();
      out.push({
        check: PHYSICS_CHECK,
        subject: s,
        status,
        summary: `${s}: ${status}, implausible in ${st.persistence.count(status)} of the last ${this.#rule.windows} windows: ${ev === null ? '' : describe(ev)}`,
        evidence: ev === null ? [] : [ev],
        sinceMs: st.persistence.sinceMs,
        window: st.persistence.span(),
        cause: 'broken_sensor',
        action: 'check_sensor',
      });
    }
  }
}
