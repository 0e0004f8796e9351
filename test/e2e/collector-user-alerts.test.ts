// Issue #9 §6, verified from the user's side: `edgeloop collector` and `edgeloop sim --fleet` as processes,
// the real mosquitto_sub on the documented alert filter (docs/mqtt.md "Alerts (collector)": an ops client on
// the embedded broker uses the collector identity with a client id of its own), a webhook receiver whose
// verification is the code printed in docs/alerts.md "Verifying" (extracted from the page, not copied), the
// alert API as curl uses it (a text/plain body), and SIGTERM. Each assertion is a promise the docs make:
// an integrity alert for a stuck axis opens and resolves, a resolve is followed by an empty retained
// message, a late subscriber reads every live alert retained, an acknowledgement is delivered, every
// webhook request verifies with the documented code, the API refuses a filter it would otherwise ignore,
// a capture is asked for with `curl -d` as the ack is.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { collectorAlertEventSchema } from '../../shared/mqtt/schemas.ts';
import { COLLECTOR_ALERTS_FILTER } from '../../shared/mqtt/topics.ts';
import { haveCommand, requireTool } from '../helpers/tools.ts';
import { waitFor } from '../helpers/wait.ts';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));
const alertsDoc = fileURLToPath(new URL('../../docs/alerts.md', import.meta.url));
const haveMosquittoSub = haveCommand('mosquitto_sub', ['--help']);
const SECRET = 'hook-secret-0123456789';

type Verify = (secret: string, header: string | undefined, rawBody: string, toleranceS?: number) => boolean;

/** The ```ts / ```python block under "In Node" / "In Python" in docs/alerts.md, exactly as printed. */
function docSnippet(lang: 'ts' | 'python'): string {
  const doc = readFileSync(alertsDoc, 'utf8');
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(doc.slice(doc.indexOf('**Verifying.**')));
  assert.ok(m?.[1] !== undefined, `docs/alerts.md has a ${lang} verification snippet`);
  return m[1];
}

interface Proc {
  readonly child: ChildProcess;
  out: string;
  err: string;
  code: number | null | undefined;
  readonly exited: Promise<number | null>;
}

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const child = spawn(cmd, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = {
    child,
    out: '',
    err: '',
    code: undefined,
    exited: new Promise((resolve) => {
      child.once('exit', (code) => {
        p.code = code;
        resolve(code);
      });
    }),
  };
  child.stdout.on('data', (b: Buffer) => (p.out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (p.err += b.toString()));
  return p;
}

interface SubMessage {
  readonly retained: boolean;
  readonly length: number;
  readonly topic: string;
  readonly payload: string;
}

/** mosquitto_sub -F '%r %l %t %p' lines: retain flag, payload length, topic, payload. */
function parseSub(out: string): SubMessage[] {
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const m = /^([01]) (\d+) (\S+) ?(.*)$/.exec(l);
      assert.ok(m !== null, `mosquitto_sub line ${l}`);
      return { retained: m[1] === '1', length: Number(m[2]), topic: m[3] as string, payload: m[4] as string };
    });
}

interface AlertJson {
  readonly id: number;
  readonly check: string;
  readonly state: string;
  readonly deviceId: string | null;
  readonly subject: string | null;
  readonly acknowledgedBy: string | null;
  readonly acknowledgedMs: number | null;
}

test(
  'a user runs the collector and a simulated fleet: alerts over MQTT (live, retained, cleared), signed webhooks, ack, SIGTERM',
  { timeout: 90_000 },
  async (t) => {
    if (!requireTool(t, haveMosquittoSub, 'mosquitto_sub', 'apt-get install mosquitto-clients')) return;
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-collector-user-'));
    const procs: Proc[] = [];
    const hook = createServer();
    t.after(() => {
      for (const p of procs) if (p.code === undefined) p.child.kill('SIGKILL');
      hook.close();
      rmSync(dir, { recursive: true, force: true });
    });

    // The docs' verification code, as printed.
    const verifyFile = join(dir, 'verify.ts');
    writeFileSync(verifyFile, `${docSnippet('ts')}\nexport { verify };\n`);
    const { verify } = (await import(pathToFileURL(verifyFile).href)) as { verify: Verify };

    const received: { header: string | undefined; eventId: string | undefined; raw: string; ok: boolean }[] =
      [];
    hook.on('request', (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const header = req.headers['x-edgeloop-signature'] as string | undefined;
        const ok = verify(SECRET, header, raw);
        received.push({ header, eventId: req.headers['x-edgeloop-event-id'] as string | undefined, raw, ok });
        res.writeHead(ok ? 200 : 401).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;

    const creds = join(dir, 'credentials.json');
    writeFileSync(
      creds,
      JSON.stringify({
        devices: { 'sim-01': 'sim-01-secret-0123', 'sim-02': 'sim-02-secret-0123' },
        collector: { username: 'edgeloop-collector', password: 'collector-secret-0123' },
      }),
    );
    // stuck-accel's fault, earlier and shorter: accel.z frozen from 20 s to 50 s of device time.
    const scenario = join(dir, 'stuck-short.json');
    writeFileSync(
      scenario,
      JSON.stringify({
        name: 'stuck-short',
        description: 'accel.z freezes from 0:20 to 0:50',
        durationS: 90,
        machine: { state: 'normal', load: 0.8 },
        events: [{ kind: 'stuck', at: 20, channel: 'accel.z', durationS: 30 }],
      }),
    );

    const env = { ...process.env, EDGELOOP_FROM_SOURCE: '1' };
    const collector = run(
      process.execPath,
      [
        bin,
        'collector',
        '--data-dir',
        join(dir, 'data'),
        '--credentials-file',
        creds,
        '--http-port',
        '0',
        '--broker-port',
        '0',
        '--broker-host',
        '127.0.0.1',
        '--evaluate-interval-ms',
        '500',
        '--alert-clear-after',
        '2',
        '--alert-webhooks',
        hookUrl,
        '--alert-webhook-secret',
        SECRET,
      ],
      env,
    );
    procs.push(collector);
    await waitFor(
      () => `the start line (stderr ${collector.err})`,
      () => {
        if (collector.code !== undefined)
          throw new Error(`collector exited ${collector.code}: ${collector.err}`);
        return /collector listening on (\S+) \(broker (\S+),/.test(collector.out);
      },
      { timeoutMs: 30_000 },
    );
    const m = /collector listening on (\S+) \(broker mqtt:\/\/127\.0\.0\.1:(\d+),/.exec(collector.out);
    assert.ok(m !== null, collector.out);
    const api = m[1] as string;
    const brokerPort = m[2] as string;
    const alerts = async (query = ''): Promise<AlertJson[]> =>
      ((await (await fetch(`${api}/api/v1/alerts${query}`)).json()) as { alerts: AlertJson[] }).alerts;
    const sub = (clientId: string, extra: readonly string[] = []): Proc =>
      run('mosquitto_sub', [
        ...['-h', '127.0.0.1', '-p', brokerPort, '-q', '1', '-i', clientId],
        ...['-u', 'edgeloop-collector', '-P', 'collector-secret-0123'],
        ...['-t', COLLECTOR_ALERTS_FILTER, '-F', '%r %l %t %p', ...extra],
      ]);

    const live = sub('ops-live');
    procs.push(live);
    await waitFor('ops-live connected (broker clients 2)', async () =>
      /^edgeloop_collector_broker_clients 2$/m.test(await (await fetch(`${api}/metrics`)).text()),
    );

    const sim = run(
      process.execPath,
      [
        bin,
        'sim',
        '--fleet',
        '2',
        '--mqtt',
        `mqtt://127.0.0.1:${brokerPort}`,
        '--mqtt-credentials',
        creds,
        '--scenario-map',
        `2=${scenario}`,
        '--speed',
        '10',
        '--duration',
        '90',
      ],
      env,
    );
    procs.push(sim);
    assert.equal(await sim.exited, 0, sim.err);

    // The stuck axis: one integrity alert on sim-02 accel.z, opened and resolved after the axis recovered.
    let seen: AlertJson[] = [];
    await waitFor(
      () => `the sim-02 accel.z edge_flags alert, resolved (alerts: ${JSON.stringify(seen)})`,
      async () => {
        seen = await alerts('?deviceId=sim-02&kind=integrity');
        return seen.some(
          (a) => a.check === 'integrity.edge_flags' && a.subject === 'accel.z' && a.state === 'resolved',
        );
      },
      { timeoutMs: 20_000 },
    );
    const stuckTopic = 'edgeloop/v1/alerts/integrity/sim-02/integrity.edge_flags/accel.z';
    await waitFor('the empty retained message that clears the resolved alert', () =>
      parseSub(live.out).some((s) => s.topic === stuckTopic && s.length === 0),
    );
    const onStuck = parseSub(live.out).filter((s) => s.topic === stuckTopic);
    const events = onStuck.map((s) =>
      s.length === 0 ? 'clear' : collectorAlertEventSchema.parse(JSON.parse(s.payload)).event,
    );
    assert.deepEqual(events.slice(0, 1), ['opened'], events.join());
    assert.deepEqual(events.slice(-2), ['resolved', 'clear'], events.join());

    // After the run the devices said `offline` (shutdown): those alerts stay live. A late subscriber
    // reads every live alert at once, retained.
    await waitFor('offline alerts of both devices', async () => {
      const open = await alerts('?state=open');
      return ['sim-01', 'sim-02'].every((d) =>
        open.some((a) => a.check === 'integrity.offline' && a.deviceId === d),
      );
    });
    const liveAlerts = [...(await alerts('?state=open')), ...(await alerts('?state=acknowledged'))];
    const late = sub('ops-late', ['-C', String(liveAlerts.length), '-W', '20']);
    procs.push(late);
    assert.equal(await late.exited, 0, late.err);
    const retained = parseSub(late.out);
    assert.ok(
      retained.every((s) => s.retained),
      late.out,
    );
    assert.deepEqual(
      retained.map((s) => collectorAlertEventSchema.parse(JSON.parse(s.payload)).alert.id).sort(),
      liveAlerts.map((a) => a.id).sort(),
    );

    // Acknowledge as docs/alerts.md shows it (curl -d: a text/plain body).
    const offline = liveAlerts.find((a) => a.check === 'integrity.offline' && a.deviceId === 'sim-01');
    assert.ok(offline !== undefined);
    const ack = await fetch(`${api}/api/v1/alerts/${offline.id}/ack`, {
      method: 'POST',
      body: '{"by":"maria@plant"}',
    });
    assert.equal(ack.status, 200);
    const acked = ((await ack.json()) as { alert: AlertJson }).alert;
    assert.equal(acked.state, 'acknowledged');
    assert.equal(acked.acknowledgedBy, 'maria@plant');
    await waitFor('the acknowledged event on MQTT', () =>
      parseSub(live.out).some(
        (s) =>
          s.length > 0 &&
          collectorAlertEventSchema.parse(JSON.parse(s.payload)).eventId ===
            `${offline.id}-acknowledged-${acked.acknowledgedMs}`,
      ),
    );

    // Every webhook request verifies with the docs' code; the events match the MQTT ones.
    await waitFor('the acknowledged webhook', () =>
      received.some((r) => r.eventId?.startsWith(`${offline.id}-acknowledged-`) === true),
    );
    assert.ok(received.length >= 4, `webhook requests: ${received.length}`);
    for (const r of received) {
      assert.ok(r.ok, `signature ${r.header} verifies`);
      assert.equal(collectorAlertEventSchema.parse(JSON.parse(r.raw)).eventId, r.eventId);
      assert.equal(verify(SECRET, r.header, `${r.raw} `), false, 'a changed body does not verify');
    }
    const py = spawnSync('python3', ['--version']);
    if (py.error === undefined) {
      const first = received[0];
      assert.ok(first !== undefined);
      const script = `${docSnippet('python')}\nimport sys\nprint(verify(sys.argv[1].encode(), sys.argv[2], sys.stdin.buffer.read()))\n`;
      const r = spawnSync('python3', ['-c', script, SECRET, first.header ?? ''], {
        input: first.raw,
        encoding: 'utf8',
      });
      assert.equal(r.stdout.trim(), 'True', r.stderr);
    }

    // A raw capture asked for as `curl -d` sends it (application/x-www-form-urlencoded, a JSON body).
    const now = Date.now();
    const cap = await fetch(`${api}/api/v1/devices/sim-01/captures`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: JSON.stringify({ fromMs: now, toMs: now + 60_000, note: 'from curl' }),
    });
    assert.equal(cap.status, 201, await cap.clone().text());
    const location = cap.headers.get('location') ?? '';
    assert.match(location, /^\/api\/v1\/captures\/\d+$/);
    assert.equal((await fetch(`${api}${location}`)).status, 200);
    assert.equal((await fetch(`${api}${location}`, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(`${api}${location}`)).status, 404);

    // A filter the API does not know is refused, never ignored (an empty or full list would mislead).
    for (const q of ['?kind=drfit', '?status=open']) {
      const r = await fetch(`${api}/api/v1/alerts${q}`);
      assert.equal(r.status, 400, q);
      const body = (await r.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'EDGELOOP_ERR_HTTP_BAD_REQUEST');
    }

    live.child.kill('SIGTERM');
    collector.child.kill('SIGTERM');
    assert.equal(await collector.exited, 0, collector.err);
    assert.match(collector.err, /INFO {2}stopped/);
  },
);
