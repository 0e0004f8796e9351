// What `edgeloop demo` shows while it runs (issue #8 §7): the faults the scenario injects within the run,
// and for each one whether the agent's integrity checks caught it. On a terminal a few status lines are
// redrawn in place; anywhere else (CI logs, pipes, tests) short lines are printed: one when a fault is
// first flagged and a progress line every 60 s of device time. Never one line per window (except with
// --all-windows).

import type { Window } from '../../shared/samples.ts';
import type { IntegrityConfig } from '../../shared/integrity/config.ts';
import { channelNames, type SensorDescriptor } from '../../shared/sensors.ts';
import type { ScenarioEvent } from '../../firmware-sim/index.ts';

/** An injected fault the run will reach, and the integrity check that should catch it. */
export interface WatchedFault {
  readonly atS: number;
  readonly endS: number;
  readonly label: string;
  /** The check that flags it, and its channel (undefined: any channel). */
  readonly check: string;
  readonly channel?: string;
  /** Set when a window first carries the flag. */
  flagged?: { readonly windowIndex: number; readonly tS: number; readonly flag: string };
}

const fmtS = (s: number): string => `${Number(s.toFixed(1))} s`;

/** The fault events of a scenario this view can match to an integrity flag; others are only listed. */
export function watchedFault(e: ScenarioEvent): WatchedFault | undefined {
  const dur = 'durationS' in e && typeof e.durationS === 'number' ? e.durationS : 0;
  const base = { atS: e.at, endS: e.at + dur };
  const lasting = dur > 0 ? ` for ${fmtS(dur)}` : '';
  switch (e.kind) {
    case 'spikes':
      return { ...base, label: `spikes on ${e.channel}${lasting}`, check: 'spike', channel: e.channel };
    case 'clipping':
      return { ...base, label: `clipping on ${e.channel}${lasting}`, check: 'clipping', channel: e.channel };
    case 'stuck':
      return { ...base, label: `stuck ${e.channel}${lasting}`, check: 'flatline', channel: e.channel };
    case 'clock_jump':
      return {
        ...base,
        label: `clock jump ${e.deltaUs / 1e6 > 0 ? '+' : ''}${e.deltaUs / 1e6} s`,
        check: 'timestamp',
      };
    case 'dropout':
      return {
        ...base,
        label: `dropout${e.sensor === undefined ? '' : ` on ${e.sensor}`}${lasting}`,
        check: 'gap',
      };
    default:
      return undefined;
  }
}

/** A fault the run injects that the edge checks cannot flag within its duration, and why. */
export interface UndetectableFault {
  readonly fault: WatchedFault;
  /** The rule and its threshold, from the integrity config. */
  readonly reason: string;
}

/**
 * Why the edge checks (with `integrity`) cannot flag `f` on the board's `sensors`, or undefined when they
 * can. Only a flat line has a duration threshold a short fault can stay under: a slow (environmental)
 * sensor's flat run is suspect only after flatline.slowSuspectSeconds, since a quiet room legitimately
 * reads constant humidity (docs/integrity.md).
 */
export function undetectableReason(
  f: WatchedFault,
  sensors: readonly SensorDescriptor[],
  integrity: IntegrityConfig,
): string | undefined {
  if (f.check !== 'flatline') return undefined;
  const cfg = integrity.flatline;
  if (!cfg.enabled) return 'the flatline check is disabled';
  const rate = sensors.find((s) => f.channel !== undefined && channelNames(s).includes(f.channel))?.rateHz;
  if (rate === undefined || rate <= 0) return undefined;
  const samples = Math.floor((f.endS - f.atS) * rate);
  const slow = rate < cfg.slowRateHz;
  const need = slow ? Math.max(cfg.suspectSamples, cfg.slowSuspectSeconds * rate) : cfg.suspectSamples;
  if (samples >= need) return undefined;
  return slow
    ? `a ${rate} Hz sensor's flat line is suspect only after ${cfg.slowSuspectSeconds} s (integrity flatline.slowSuspectSeconds)`
    : `a flat line is suspect only after ${cfg.suspectSamples} samples (integrity flatline.suspectSamples); ` +
        `this one lasts ${samples}`;
}

/**
 * Splits the scenario's faults into those the run reaches and the edge checks can flag (watched), those it
 * reaches but the checks cannot flag within their duration (undetectable, with the reason), and those
 * past its end (later).
 */
export function plan(
  events: readonly ScenarioEvent[],
  durationS: number,
  edge?: { readonly sensors: readonly SensorDescriptor[]; readonly integrity: IntegrityConfig },
): { watched: WatchedFault[]; undetectable: UndetectableFault[]; later: WatchedFault[] } {
  const all = events.map(watchedFault).filter((f): f is WatchedFault => f !== undefined);
  const watched: WatchedFault[] = [];
  const undetectable: UndetectableFault[] = [];
  for (const f of all.filter((x) => x.atS < durationS)) {
    // Only what the run injects counts: a fault cut short by the run's end lasts until then.
    const injected = { ...f, endS: Math.min(f.endS, durationS) };
    const reason =
      edge === undefined ? undefined : undetectableReason(injected, edge.sensors, edge.integrity);
    if (reason === undefined) watched.push(f);
    else undetectable.push({ fault: f, reason });
  }
  return { watched, undetectable, later: all.filter((f) => f.atS >= durationS) };
}

/** The default run length: every fault of the scenario and 30 s after the last one, within the scenario. */
export function defaultDurationS(events: readonly ScenarioEvent[], scenarioDurationS: number): number {
  const ends = events.map(watchedFault).flatMap((f) => (f === undefined ? [] : [f.endS]));
  if (ends.length === 0) return Math.min(scenarioDurationS, 120);
  return Math.min(scenarioDurationS, Math.ceil(Math.max(...ends)) + 30);
}

export interface DemoViewOptions {
  readonly out: NodeJS.WritableStream;
  /** Redraw in place. Default: the stream's isTTY. */
  readonly tty?: boolean;
  readonly durationS: number;
  readonly watched: WatchedFault[];
  /** Print every window as a line (the old view). */
  readonly allWindows?: boolean;
  /** Wall clock for the redraw throttle (TTY only). Default Date.now. */
  readonly nowMs?: () => number;
}

export interface DemoView {
  window(w: Window, line: () => string): void;
  /** An agent notice or reader state change worth a line of its own. */
  note(text: string): void;
  /** Draws the final state and leaves the cursor below it. */
  end(): void;
}

interface Counts {
  windows: number;
  good: number;
  suspect: number;
  fail: number;
  tS: number;
}

export function createDemoView(o: DemoViewOptions): DemoView {
  const tty = o.tty ?? (o.out as { isTTY?: boolean }).isTTY === true;
  const nowMs = o.nowMs ?? Date.now;
  const c: Counts = { windows: 0, good: 0, suspect: 0, fail: 0, tS: 0 };
  let drawn = 0;
  let lastDrawMs = -Infinity;
  let nextProgressS = 60;
  const write = (s: string): void => {
    o.out.write(s);
  };
  const status = (): string =>
    `device time ${c.tS.toFixed(0).padStart(4)} / ${o.durationS} s   windows ${c.windows} (good ${c.good}, suspect ${c.suspect}, fail ${c.fail})`;
  const faultLine = (f: WatchedFault): string => {
    const when = `${String(f.atS).padStart(4)} s  ${f.label.padEnd(30)}`;
    if (f.flagged !== undefined)
      return `${when} flagged at ${fmtS(f.flagged.tS)} (${f.flagged.flag}, window ${f.flagged.windowIndex})`;
    if (c.tS < f.atS) return `${when} not yet`;
    return `${when} watching`;
  };
  const draw = (): void => {
    const lines = [status(), ...o.watched.map(faultLine)];
    // Up over the previous block, then rewrite each line (clearing its tail).
    let s = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const l of lines) s += `\r\x1b[K${l}\n`;
    write(s);
    drawn = lines.length;
    lastDrawMs = nowMs();
  };
  return {
    window(w, line) {
      c.windows++;
      c[w.integrity.status]++;
      c.tS = Math.max(c.tS, w.endUs / 1e6);
      const newly: WatchedFault[] = [];
      for (const f of o.watched) {
        if (f.flagged !== undefined || w.startUs / 1e6 < f.atS - 5) continue;
        const hit = w.integrity.flags.find(
          (x) =>
            x.status !== 'good' &&
            x.check === f.check &&
            (f.channel === undefined || x.channel === f.channel),
        );
        if (hit === undefined) continue;
        f.flagged = {
          windowIndex: w.index,
          tS: w.startUs / 1e6,
          flag: `${hit.channel}:${hit.check}=${hit.status}`,
        };
        newly.push(f);
      }
      if (tty && !o.allWindows) {
        // At most ~8 redraws a second, and always when something was caught.
        if (newly.length > 0 || nowMs() - lastDrawMs >= 125) draw();
        return;
      }
      if (o.allWindows === true) write(`${line()}\n`);
      for (const f of newly)
        write(`t=${fmtS(f.flagged?.tS ?? 0)}  caught: ${f.label} -> ${f.flagged?.flag ?? ''}\n`);
      if (c.tS >= nextProgressS) {
        write(`${status()}\n`);
        nextProgressS += 60;
      }
    },
    note(text) {
      if (tty && drawn > 0) {
        // Print above the status block, then redraw it below.
        write(`\x1b[${drawn}A\r\x1b[K${text}\n`);
        drawn = 0;
        draw();
        return;
      }
      write(`${text}\n`);
    },
    end() {
      if (tty && !o.allWindows) draw();
      else write(`${status()}\n`);
      const missed = o.watched.filter((f) => f.flagged === undefined);
      if (missed.length > 0 && !tty)
        for (const f of missed) write(`not flagged: ${f.label} (at ${f.atS} s)\n`);
    },
  };
}
