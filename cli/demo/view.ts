// The demo's live view: milestone lines scroll, and on a terminal a few status lines (devices, the
// retraining job's progress bar, the rollout's device counts) are redrawn in place below them. Anywhere
// else (CI logs, pipes) the milestones are printed as they come and the status every 30 s of wall time.

import type { DemoDevice } from './plan.ts';
import type { Snapshot } from './watch.ts';

const STATUS_EVERY_MS = 30_000;

export interface LiveView {
  /** A line that scrolls (a milestone, a step). */
  line(text: string): void;
  /** New status from a snapshot. */
  status(s: Snapshot, deviceTimeS: number): void;
  /** Free text status, before there is a snapshot (a step's progress). */
  note(text: string): void;
  /** Leaves the status block on screen and stops redrawing. */
  end(): void;
}

function bar(done: number, of: number, width = 20): string {
  const f = of <= 0 ? 0 : Math.max(0, Math.min(1, done / of));
  const n = Math.round(f * width);
  return `[${'#'.repeat(n)}${'-'.repeat(width - n)}]`;
}

/** The status block's lines for a snapshot. */
export function statusLines(
  s: Snapshot,
  devices: readonly DemoDevice[],
  deviceTimeS: number,
  wallS: number,
): string[] {
  const lines = [`device time ${String(Math.round(deviceTimeS))} s, wall ${String(Math.round(wallS))} s`];
  const byId = new Map(s.devices.map((d) => [d.deviceId, d]));
  for (const d of devices) {
    const v = byId.get(d.deviceId);
    const live = s.alerts.filter(
      (a) => a.deviceId === d.deviceId && a.state !== 'resolved' && a.severity !== 'info',
    );
    lines.push(
      `  ${d.deviceId.padEnd(8)} ${d.role.padEnd(13)} ${v === undefined ? 'waiting' : `${v.online ? 'online ' : 'offline'} model ${v.model ?? '-'}`.padEnd(20)} ${
        live.length === 0 ? 'ok' : [...new Set(live.map((a) => `${a.kind} ${a.subject}`.trim()))].join(', ')
      }`,
    );
  }
  const fleet = s.devices.length - devices.length;
  if (fleet > 0) {
    const ids = new Set(devices.map((d) => d.deviceId));
    const live = s.alerts.filter(
      (a) => a.deviceId !== '' && !ids.has(a.deviceId) && a.state !== 'resolved' && a.severity !== 'info',
    );
    const kinds = [...new Set(live.map((a) => a.kind))].join(', ');
    lines.push(
      `  + ${String(fleet)} fleet devices (telemetry only): ${live.length === 0 ? 'ok' : `${String(live.length)} live alerts (${kinds})`}`,
    );
  }
  const request = s.requests.at(-1);
  const job = request?.trainingJobId == null ? undefined : s.jobs[request.trainingJobId];
  if (job !== undefined && (job.state === 'running' || job.state === 'queued')) {
    const p = job.progress;
    lines.push(
      `  retraining ${job.id} ${p === null ? job.state : `${bar(p.done, p.of)} ${p.phase} ${String(p.done)}/${String(p.of)}`}`,
    );
  }
  const rollout = request?.rolloutId == null ? undefined : s.rollouts[request.rolloutId];
  if (
    rollout !== undefined &&
    (rollout.state === 'running' || rollout.state === 'paused' || rollout.state === 'rolling_back')
  )
    lines.push(
      `  rollout ${rollout.id} ${rollout.state} phase ${String(rollout.currentPhase)}: ${Object.entries(
        rollout.counts,
      )
        .map(([k, n]) => `${k} ${String(n)}`)
        .join(', ')}`,
    );
  return lines;
}

export function createLiveView(o: {
  out: NodeJS.WritableStream;
  devices: readonly DemoDevice[];
  startedMs: number;
  tty?: boolean;
}): LiveView {
  const tty = o.tty ?? (o.out as { isTTY?: boolean }).isTTY === true;
  let drawn = 0;
  let block: string[] = [];
  let lastPrinted = 0;
  let ended = false;
  const write = (s: string): void => {
    o.out.write(s);
  };
  const clearBlock = (): string => {
    if (!tty || drawn === 0) return '';
    const s = `\x1b[${String(drawn)}A\r\x1b[J`;
    drawn = 0;
    return s;
  };
  const drawBlock = (): string => {
    if (!tty || ended) return '';
    drawn = block.length;
    return block.map((l) => `\r\x1b[K${l}\n`).join('');
  };
  return {
    line(text) {
      write(`${clearBlock()}${text}\n${drawBlock()}`);
    },
    status(s, deviceTimeS) {
      block = statusLines(s, o.devices, deviceTimeS, (Date.now() - o.startedMs) / 1000);
      if (tty) {
        write(`${clearBlock()}${drawBlock()}`);
        return;
      }
      if (Date.now() - lastPrinted < STATUS_EVERY_MS) return;
      lastPrinted = Date.now();
      write(`${block.join('\n')}\n`);
    },
    note(text) {
      block = [text];
      if (tty) write(`${clearBlock()}${drawBlock()}`);
    },
    end() {
      if (ended) return;
      ended = true;
      drawn = 0;
    },
  };
}
