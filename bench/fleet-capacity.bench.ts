// The largest fleet this machine keeps in real time with no loss (issue 11 §4): a real collector (embedded
// broker, SQLite, monitors) in this process and `edgeloop sim --fleet n --replay 60 --speed 1` as a child
// process, as `edgeloop demo --fleet n` runs them, for growing n. A size passes when the simulator never
// fell more than two windows (2 s) behind real time, every publish was acknowledged, and the collector stored every
// message in sequence (no msgSeq hole). Baseline: the smallest fleet, in the same run.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestCollector } from '../test/integration/collector-fixture.ts';
import { section, type Row } from './lib.ts';

const SIZES = [50, 100, 150, 200, 400];
/** Behind real time by more than this is not real time: two windows (the pace is one window a second). */
const MAX_BEHIND_S = 2;
const DURATION_S = 60;
const bin = fileURLToPath(new URL('../bin/edgeloop.js', import.meta.url));

interface Outcome {
  readonly devices: number;
  readonly maxBehindS: number;
  readonly messages: number;
  readonly acked: number;
  readonly errors: number;
  readonly stored: number;
  readonly missing: number;
  readonly realTime: boolean;
}

async function run(n: number): Promise<Outcome> {
  const ids = Array.from(
    { length: n },
    (_, i) => `cap-${String(i + 1).padStart(Math.max(2, String(n).length), '0')}`,
  );
  const credDir = mkdtempSync(join(tmpdir(), 'edgeloop-capacity-'));
  const creds = join(credDir, 'credentials.json');
  writeFileSync(
    creds,
    JSON.stringify({
      devices: Object.fromEntries(ids.map((id) => [id, `pw-${id}-0123456789`])),
      collector: { username: 'collector', password: 'collector-secret-0123' },
    }),
  );
  const fx = await startTestCollector({ evaluateIntervalMs: 10_000, credentialsFile: creds });
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          bin,
          'sim',
          '--fleet',
          String(n),
          '--prefix',
          'cap-',
          '--replay',
          '60',
          '--speed',
          '1',
          '--duration',
          String(DURATION_S),
          '--seed',
          '1',
          '--mqtt',
          fx.collector.brokerUrl,
          '--mqtt-credentials',
          creds,
        ],
        { env: { ...process.env, EDGELOOP_FROM_SOURCE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      child.once('error', reject);
      child.once('exit', () => {
        resolve(text);
      });
    });
    const m = /fleet done.*?(\d+) messages, (\d+) acked, (\d+) errors.*max behind pace ([\d.]+) s/.exec(out);
    if (m === null) throw new Error(`no fleet summary from sim:\n${out.slice(-2000)}`);
    const [messages, acked, errors, behind] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
    // Acknowledged means written (the collector acks after its batch commits); let the last batch land.
    let stored = 0;
    let missing = 0;
    for (let i = 0; i < 100; i++) {
      const stats = [...fx.collector.ingest.sequenceStats().values()];
      stored = stats.reduce((a, s) => a + s.received, 0);
      missing = stats.reduce((a, s) => a + s.missing, 0);
      if (stored >= acked) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      devices: n,
      maxBehindS: behind,
      messages,
      acked,
      errors,
      stored,
      missing,
      realTime: behind <= MAX_BEHIND_S && errors === 0 && acked === messages && missing === 0,
    };
  } finally {
    await fx.close();
    rmSync(credDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const outcomes: Outcome[] = [];
  for (const n of SIZES) {
    const o = await run(n);
    outcomes.push(o);
    process.stderr.write(`fleet-capacity: ${JSON.stringify(o)}\n`);
    if (!o.realTime) break;
  }
  const base = outcomes[0] as Outcome;
  const largest = [...outcomes].reverse().find((o) => o.realTime);
  const rows: Row[] = outcomes.flatMap((o) => [
    {
      metric: `${String(o.devices)} devices: most behind real time`,
      median: o.maxBehindS,
      baseline: base.maxBehindS,
      unit: 's',
      ratio: '',
    },
    {
      metric: `${String(o.devices)} devices: messages sent / acknowledged / stored / msgSeq holes`,
      median: `${String(o.messages)} / ${String(o.acked)} / ${String(o.stored)} / ${String(o.missing)}`,
      baseline: `${String(base.messages)} / ${String(base.acked)} / ${String(base.stored)} / ${String(base.missing)}`,
      ratio: o.realTime ? 'real time, no loss' : 'NOT real time or lossy',
    },
  ]);
  rows.push({
    metric: 'largest fleet in real time with no loss',
    median: largest === undefined ? 'none' : `${String(largest.devices)} devices`,
    baseline: `${String(base.devices)} devices`,
    ratio: '',
  });
  process.stdout.write(
    section(
      'Fleet capacity: the largest --fleet in real time with no loss',
      'npm run bench -- fleet-capacity',
      rows,
      [
        `Each size runs ${String(DURATION_S)} s of device time at --speed 1 with --replay 60 (as \`edgeloop demo --fleet\` does), the collector in the bench's process and the simulator in a child process, on this 2-core machine; sizes stop at the first that falls behind or loses data. One run per size (a capacity, not a timing).`,
        'What falls behind is the simulator: with --replay 60 it computes the first 60 s of every device (6–8 ms of CPU per device-second, docs/firmware-sim.md §Capacity) before replaying them, and between 100 and 150 devices that takes more than the one core left to it; the collector stored every message with no msgSeq hole at every size measured.',
      ],
    ),
  );
}

await main();
