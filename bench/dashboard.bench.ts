// Dashboard load time (issue 11 §4): a real collector holding 1,000 devices (one window each, offered to
// its ingest as MQTT payloads), the fleet view opened in headless Chromium (Debian's, via playwright-core)
// until its summary and first page of rows are drawn, and the fleet rows route the page and its live feed
// read. Baseline: the same with 10 devices, in the same run.

import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import {
  encodeTelemetry,
  startTestCollector,
  telemetry,
  telemetryTopic,
} from '../test/integration/collector-fixture.ts';
import { median, section, type Row } from './lib.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];
const RUNS = 7;

async function measure(
  devices: number,
): Promise<{ loadMs: number; allRowsMs: number; fleetMs: number; bytes: number }> {
  const fx = await startTestCollector({ evaluateIntervalMs: 60_000 });
  try {
    const ids = Array.from({ length: devices }, (_, i) => `dev-${String(i).padStart(4, '0')}`);
    // offer() returns a promise only when ingest asks the sender to wait (backpressure).
    const waits = ids.flatMap((id) => {
      const p = fx.collector.ingest.offer(telemetryTopic(id), encodeTelemetry(telemetry(id, 1, 1)));
      return p === undefined ? [] : [p];
    });
    await Promise.all(waits);
    const url = fx.collector.httpUrl;
    for (;;) {
      const r = (await (await fetch(`${url}/api/v1/fleet`)).json()) as { devices: unknown[] };
      if (r.devices.length >= devices) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    const fleet: number[] = [];
    let bytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const body = await (await fetch(`${url}/api/v1/fleet`)).text();
      fleet.push(performance.now() - t0);
      bytes = body.length;
    }
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
    const load: number[] = [];
    const all: number[] = [];
    try {
      for (let i = 0; i < RUNS; i++) {
        const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
        const t0 = performance.now();
        await page.goto(`${url}/`);
        await page
          .locator('.tile b')
          .first()
          .filter({ hasText: String(devices) })
          .waitFor();
        await page
          .locator('table[aria-label="Devices"] tbody tr')
          .nth(Math.min(devices, 200) - 1)
          .waitFor();
        load.push(performance.now() - t0);
        // Every row: "Show more" until none is left.
        const t1 = performance.now();
        while ((await page.locator('button.more').count()) > 0) await page.locator('button.more').click();
        await page
          .locator('table[aria-label="Devices"] tbody tr')
          .nth(devices - 1)
          .waitFor();
        all.push(performance.now() - t1);
        await page.close();
      }
    } finally {
      await browser.close();
    }
    return { loadMs: median(load), allRowsMs: median(all), fleetMs: median(fleet), bytes };
  } finally {
    await fx.close();
  }
}

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const small = await measure(10);
  const large = await measure(1000);
  const rows: Row[] = [
    {
      metric: 'fleet view drawn (summary + first 200 rows), 1,000 devices',
      median: large.loadMs,
      baseline: small.loadMs,
      unit: 'ms',
    },
    {
      metric: 'every row drawn after "Show more", 1,000 devices',
      median: large.allRowsMs,
      baseline: small.allRowsMs,
      unit: 'ms',
    },
    {
      metric: 'GET /api/v1/fleet, 1,000 devices',
      median: large.fleetMs,
      baseline: small.fleetMs,
      unit: 'ms',
    },
    {
      metric: 'GET /api/v1/fleet body, 1,000 devices',
      median: large.bytes / 1024,
      baseline: small.bytes / 1024,
      unit: 'KiB',
    },
  ];
  process.stdout.write(
    section('Dashboard load time', 'npm run bench -- dashboard', rows, [
      `Baseline: the same collector and page with 10 devices. Headless Chromium (${CHROMIUM}), a new page per run, ${String(RUNS)} runs; the load time runs from navigation to the fleet summary and the first page of rows being in the DOM.`,
    ]),
  );
}

await main();
