// The dashboard's explanation panels when explaining is refused (docs/dashboard.md "Explanations"), in a
// real browser (Debian's chromium, driven by playwright-core) on a real collector with its registry
// mounted: the device runs fan@1.0.0, which is not in the registry, so the explanations API answers 409
// EDGELOOP_ERR_EXPLAIN_UNAVAILABLE. The device view shows that message where the charts would be, the
// accuracy panel still draws the estimate and warns that it cannot be trusted (no measured calibration),
// the rest of the view is intact, and the page throws nothing: the only console errors are the browser's
// own notes of the refused requests.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import {
  deviceClient,
  encodeTelemetry,
  startTestCollector,
  telemetry,
  telemetryTopic,
} from '../integration/collector-fixture.ts';
import { requireTool } from '../helpers/tools.ts';
import { waitFor } from '../helpers/wait.ts';

const CHROMIUM = '/usr/bin/chromium';

test(
  'a device whose model is not in the registry: the explanation panels show the refusal, nothing breaks',
  { timeout: 180_000 },
  async (t) => {
    if (!requireTool(t, existsSync(CHROMIUM), 'chromium', 'apt-get install -y chromium')) return;
    const key = generateSigningKeyPair();
    const fx = await startTestCollector({}, { trustedKeys: [key.publicKeyPem] });
    const http = fx.collector.httpUrl;
    const dev = await deviceClient(fx.collector.brokerUrl, 'dev-a');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
      headless: true,
    });
    // The page first, then the device, then the collector.
    t.after(async () => {
      await browser.close();
      dev.end(true);
      await fx.close();
    });

    for (let seq = 1; seq <= 5; seq++) {
      // The pipeline's feature names (the prediction-mix chart reads accel.x.mean).
      const w = {
        ...telemetry('dev-a', 1, seq),
        features: { 'accel.x.mean': seq * 0.01, 'temperature.mean': 30 },
      };
      await dev.publishAsync(telemetryTopic('dev-a'), encodeTelemetry(w), { qos: 1 });
    }
    await waitFor('the 5 windows stored', async () => {
      const r = (await (await fetch(`${http}/api/v1/devices/dev-a/windows?limit=10`)).json()) as {
        windows?: unknown[];
      };
      return r.windows?.length === 5;
    });
    // The API's side of it, so the page is judged against what it was actually told.
    const refused = await fetch(`${http}/api/v1/devices/dev-a/contributions?limit=120`);
    assert.equal(refused.status, 409);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'EDGELOOP_ERR_EXPLAIN_UNAVAILABLE');

    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      // Chromium logs every refused fetch ("Failed to load resource: ... status of 409 (Conflict)"); only
      // the explanation routes may be refused here.
      const refusedExplain =
        /status of 409/.test(m.text()) && /\/(contributions|explanation)\b/.test(m.location().url);
      if (m.type() === 'error' && !refusedExplain)
        problems.push(`console: ${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

    await page.goto(`${http}/#/devices/dev-a`);
    await page.getByRole('heading', { name: 'Device dev-a' }).waitFor();
    const why = page.locator('[data-panel="contributions"]');
    await why.locator('.error', { hasText: 'EDGELOOP_ERR_EXPLAIN_UNAVAILABLE' }).waitFor();
    assert.ok(
      ((await why.locator('.error').textContent()) ?? '').includes(body.error.message),
      'the API message',
    );
    assert.equal(await why.locator('canvas').count(), 0, 'no chart drawn from a refusal');
    // Accuracy needs no model run: the estimate is drawn, with the warning that it cannot be trusted.
    const perf = page.locator('[data-panel="performance"]');
    await perf.locator('canvas').first().waitFor();
    assert.match((await perf.locator('.warn-box').textContent()) ?? '', /not trusted: .*calibration/);
    // The view's other charts are still there.
    await page.getByRole('heading', { name: 'Prediction mix over time' }).waitFor();
    await page.locator('figure', { hasText: 'Prediction mix over time' }).locator('canvas').first().waitFor();

    assert.deepEqual(problems, [], 'no page errors, no console errors but the refused requests');
  },
);
