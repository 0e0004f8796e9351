// Issue 11 §2 and §4, in a real browser: headless Chromium (Debian's, driven by playwright-core) on the
// dashboard of a running `edgeloop demo`. The fleet fills in, an alert appears live (no reload), the
// operator acknowledges it and opens its explanation, a device's drift chart and its explanations (group
// contributions over time and for one window, accuracy over time) and a rollout open, and the models view
// draws its test report with its permutation importance. Screenshots go to .tmp/artifacts/dashboard/ (or $EDGELOOP_TEST_ARTIFACTS); no page may log a
// console error. Named demo-* so the runner runs it alone (scripts/run-tests.mjs).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { requireTool } from '../helpers/tools.ts';
import { waitFor } from '../helpers/wait.ts';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));
const artifacts =
  process.env.EDGELOOP_TEST_ARTIFACTS ??
  fileURLToPath(new URL('../../.tmp/artifacts/dashboard/', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

test(
  'the dashboard of a running demo: fleet, a live alert acknowledged, a drift chart, a rollout, a model report',
  { timeout: 540_000 },
  async (t) => {
    if (!requireTool(t, existsSync(CHROMIUM), 'chromium', 'apt-get install -y chromium')) return;
    mkdirSync(artifacts, { recursive: true });
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-dash-'));
    const demo = spawn(
      process.execPath,
      [
        bin,
        'demo',
        '--speed',
        '8',
        '--seed',
        '1',
        '--fleet',
        '20',
        '--keep-running',
        '--data-dir',
        join(dir, 'data'),
      ],
      {
        env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache'), EDGELOOP_FROM_SOURCE: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    demo.stdout.on('data', (d: Buffer) => (out += d.toString()));
    demo.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    t.after(async () => {
      await browser.close();
      if (demo.exitCode === null) {
        demo.kill('SIGINT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    });
    const alive = (): boolean => {
      if (demo.exitCode !== null) throw new Error(`the demo exited ${String(demo.exitCode)}:\n${out}`);
      return true;
    };

    await waitFor('the dashboard URL', () => alive() && /^dashboard http:\S+/m.test(out), {
      timeoutMs: 180_000,
      intervalMs: 200,
    });
    const url = /^dashboard (http:\S+)/m.exec(out)?.[1] as string;

    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    let navigations = 0;
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations += 1;
    });

    try {
      // Fleet: the three demo devices and the 20 fleet devices, each with a connection state.
      const started = Date.now();
      await page.goto(url);
      await page.getByRole('heading', { name: 'Fleet' }).waitFor();
      t.diagnostic(`fleet view drawn in ${String(Date.now() - started)} ms`);
      const rows = page.locator('table[aria-label="Devices"] tbody tr');
      let fleetRows = 0;
      await waitFor(
        () => `23 devices in the fleet table (have ${String(fleetRows)})`,
        async () => {
          fleetRows = await rows.count();
          return alive() && fleetRows >= 23;
        },
        { timeoutMs: 180_000, intervalMs: 500 },
      );
      await page.locator('tr[data-device="pump-1"]').getByText('online').waitFor({ timeout: 60_000 });
      await shot(page, 'fleet');
      // Sorting by a column header reorders the rows, and says so to assistive technology.
      await page.getByRole('button', { name: /^Device/ }).click();
      assert.equal(await page.locator('th[aria-sort="descending"]').count(), 1);

      // Alerts: one appears while the page is open, with no reload.
      await page.getByRole('link', { name: /^Alerts/ }).click();
      await page.getByRole('heading', { name: 'Alerts' }).waitFor();
      const before = navigations;
      const cards = page.locator('article[data-alert]');
      await waitFor('an alert appears live', async () => alive() && (await cards.count()) > 0, {
        timeoutMs: 300_000,
        intervalMs: 500,
      });
      assert.equal(navigations, before, 'no reload: the alert came over the live feed');
      const card = cards.first();
      assert.match((await card.textContent()) ?? '', /Suspected cause/);
      await shot(page, 'alerts');
      await page.getByLabel('Acknowledge as').fill('browser-test');
      const ackButton = page.getByRole('button', { name: /^Acknowledge #\d+/ }).first();
      const id = Number(/#(\d+)/.exec((await ackButton.textContent()) ?? '')?.[1]);
      await ackButton.click();
      await page
        .locator(`article[data-alert="${String(id)}"]`)
        .getByText('by browser-test')
        .waitFor();
      const stored = (await (await fetch(`${url}api/v1/alerts/${String(id)}`)).json()) as {
        alert: { state: string; acknowledgedBy: string };
      };
      assert.equal(stored.alert.acknowledgedBy, 'browser-test');
      assert.notEqual(stored.alert.state, 'open');
      // An alert's model explanation opens under it (for an integrity alert: why no impact is estimated).
      // All alerts are shown, so the one chosen stays listed if it resolves meanwhile.
      await page.getByLabel('Show').selectOption('all');
      const explainable = cards.filter({ has: page.getByRole('button', { name: /^Explain #\d+/ }) }).first();
      const eid = (await explainable.getAttribute('data-alert')) ?? '';
      const explainedAlert = page.locator(`article[data-alert="${eid}"]`);
      await explainedAlert.getByRole('button', { name: `Explain #${eid}` }).click();
      await explainedAlert.locator(`[data-explain="${eid}"]`).getByText('Impact on the model').waitFor();

      // A device: its charts, drift over time among them (uPlot draws on a canvas).
      await page.goto(`${url}#/devices/pump-1`);
      await page.getByRole('heading', { name: 'Device pump-1' }).waitFor();
      const drift = page.locator('figure', { hasText: 'Drift score' });
      await drift.locator('canvas').first().waitFor({ timeout: 120_000 });
      await page
        .locator('figure', { hasText: 'share of windows per bin' })
        .locator('canvas')
        .first()
        .waitFor();
      // Its explanations: group contributions over time (uPlot) and the newest window's contributions as
      // bars, with the predicted class; a click on the time chart explains an older window.
      const why = page.locator('[data-panel="contributions"]');
      await why.locator('canvas').first().waitFor({ timeout: 120_000 });
      const groupBars = why.locator('[data-chart="window-contributions"] .bar-label');
      await groupBars.first().waitFor({ timeout: 60_000 });
      assert.ok((await groupBars.count()) >= 2, 'one bar per sensor group');
      const explained = why.locator('.window-explanation');
      assert.match((await explained.textContent()) ?? '', /predicted \S+ with probability [\d.]+ %/);
      const newest = await explained.getAttribute('data-window');
      const windows = await why.locator('select option').count();
      t.diagnostic(`${String(windows)} windows on the contributions chart`);
      if (windows >= 2) {
        const over = why.locator('.u-over').first();
        const box = await over.boundingBox();
        assert.ok(box !== null, 'the contributions chart is laid out');
        await over.click({ position: { x: 2, y: box.height / 2 } });
        await why.locator(`.window-explanation:not([data-window="${newest ?? ''}"])`).waitFor();
      }
      await page.locator('[data-panel="performance"]').locator('canvas').first().waitFor({ timeout: 60_000 });
      await shot(page, 'device-pump-1');

      // A rollout: the baseline's, with its phases and devices by state.
      await page.goto(`${url}#/rollouts`);
      await page.locator('tr[data-rollout="ro-1"]').getByRole('link').click();
      await page.getByRole('heading', { name: 'Rollout ro-1' }).waitFor();
      await page.locator('[data-phase]').first().waitFor();
      assert.ok((await page.locator('[data-phase]').count()) >= 2, 'canary and at least one phase');
      await shot(page, 'rollout');

      // Models: the test report as charts.
      await page.goto(`${url}#/models`);
      await page.locator('table[aria-label="Confusion matrix"]').waitFor({ timeout: 30_000 });
      await page.locator('figure', { hasText: 'Reliability' }).locator('canvas').first().waitFor();
      // The report's explanations: permutation importance per sensor group and feature, accuracy per group.
      const importance = page.locator('[data-chart="importance-groups"] .bar-label');
      await importance.first().waitFor();
      assert.ok((await importance.count()) >= 2, 'importance of every sensor group');
      await page.locator('[data-chart="importance-features"] .bar-label').first().waitFor();
      await page.locator('[data-chart="accuracy-states"] .bar-label').first().waitFor();
      await shot(page, 'models');

      // Keyboard: from the top of a freshly loaded page, Tab reaches the skip link, then the views.
      await page.goto(`${url}#/fleet`);
      await page.reload();
      await page.getByRole('heading', { name: 'Fleet' }).waitFor();
      const focused: string[] = [];
      for (let i = 0; i < 6; i++) {
        await page.keyboard.press('Tab');
        focused.push(((await page.locator(':focus').textContent()) ?? '').trim());
      }
      assert.equal(focused[0], 'Skip to content', focused.join(' | '));
      assert.ok(
        focused.some((f) => f.startsWith('Alerts')),
        `Tab reaches the navigation: ${focused.join(' | ')}`,
      );

      assert.deepEqual(problems, [], 'no console errors');
    } catch (err) {
      // What the page showed when it failed, next to the other screenshots.
      await shot(page, 'failure');
      throw err;
    }
    demo.kill('SIGINT');
    await exited;
  },
);
