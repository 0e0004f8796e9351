// `edgeloop rollout`: start, follow, pause, resume and abort fleet rollouts through the collector's HTTP API
// (docs/rollouts.md; issue #10 §3 "Interfaces"). Only HTTP: the rollout controller runs in the collector.

import { parseCliArgs } from '../shared/config.ts';
import { EdgeloopError, errorCatalogue, type ErrorCode } from '../shared/errors.ts';
import type { Command, CliIO } from './commands.ts';
import { exitCodeFor, isErrorCode } from './errors.ts';
import { Refused, statusCode, table } from './registry-client.ts';

export const DEFAULT_COLLECTOR_URL = 'http://127.0.0.1:8080';

const common = `Options of every subcommand:
  --url <url>      collector base URL (variable EDGELOOP_COLLECTOR_URL). Default ${DEFAULT_COLLECTOR_URL}.
  --token <token>  bearer token for writes (variable EDGELOOP_REGISTRY_TOKEN: the collector checks the
                   registry's write tokens). Default none.
  --json           print the server's JSON instead of text. Default false.
  -h, --help       this help.`;

const subHelp: Readonly<Record<string, string>> = {
  start: `edgeloop rollout start --model <name> --to <version> [options]

Starts a rollout: canary, then phases, each a percentage of the devices left, with a bake time and an
analysis after each (docs/rollouts.md).

  --model <name>             registry model name. Required.
  --to <version>             version to roll out; must be in the registry. Required.
  --from <version>           version the devices run now. Default: what production points at.
  --devices <a,b,...>        devices in the rollout. Default: every device that reports the model.
  --canary-devices <a,b>     canary devices by name (instead of a percentage).
  --canary-percent <p>       canary share of the devices, (0, 100]. Default 10 (at least one device).
  --canary-bake-s <s>        bake after the canary, seconds. Default 60.
  --phases <p:s,...>         phases as percent:bakeSeconds of the devices left; the last must be 100.
                             Default 50:60,100:0.
  --seed <n>                 seed of the device selection. Default 1.
  --device-timeout-s <s>     a device with no terminal model state by then is timed_out. Default 600.
  --analysis <k=v,...>       analysis policy overrides, e.g. minWindows=50,maxLatencyP95Ratio=2
                             (names and defaults in docs/rollouts.md).
  --manual                   pause after every passed phase (autoProceed off). Default: proceed.
  --reason <text>            why; recorded in events and the production alias history.
  --wait                     follow the rollout until it ends, printing progress; exit 0 only when it
                             completed, 1 when rolled back or aborted, 3 when it paused for an operator,
                             130 when interrupted (Ctrl-C; the rollout goes on in the collector).
  --interval-ms <ms>         how often --wait polls. Default 1000.
`,
  status: `edgeloop rollout status [<id>] [--state <state>] [--model <name>] [--limit <n>]

Without an id: lists rollouts, newest first (filters: --state running|paused|completed|rolling_back|
rolled_back|aborted, --model, --limit, default 20). With an id: the rollout, its phases as a table,
the device counts and the analyses.
`,
  pause: `edgeloop rollout pause <id> [--reason <text>]

Pauses a running rollout: no new phase starts; device states are still followed.
`,
  resume: `edgeloop rollout resume <id>

Resumes a paused rollout. After an inconclusive analysis, resuming means "proceed".
`,
  abort: `edgeloop rollout abort <id> [--reason <text>]

Aborts a running or paused rollout: every device that got the new model is rolled back, the canary alias
goes back, and production never moves.
`,
};

const help = `edgeloop rollout: roll a model version out to the fleet through the collector

Usage:
  edgeloop rollout start --model <name> --to <version> [--canary-percent 10] [--phases 50:60,100:0] [--wait]
  edgeloop rollout status [<id>]
  edgeloop rollout pause <id> [--reason <text>]
  edgeloop rollout resume <id>
  edgeloop rollout abort <id> [--reason <text>]
  edgeloop rollout inventory

${Object.values(subHelp).join('\n')}
edgeloop rollout inventory

Which device runs which model now, and its last model state.

${common}

Exit codes: 0 done, 1 refused or failed (the message carries an EDGELOOP_ERR_* code), 2 usage,
3 (start --wait) paused for an operator.
`;

const options = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  model: { type: 'string' },
  to: { type: 'string' },
  from: { type: 'string' },
  devices: { type: 'string' },
  'canary-devices': { type: 'string' },
  'canary-percent': { type: 'string' },
  'canary-bake-s': { type: 'string' },
  phases: { type: 'string' },
  seed: { type: 'string' },
  'device-timeout-s': { type: 'string' },
  analysis: { type: 'string' },
  manual: { type: 'boolean' },
  reason: { type: 'string' },
  wait: { type: 'boolean' },
  'interval-ms': { type: 'string' },
  state: { type: 'string' },
  limit: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = Record<string, string | boolean | string[] | undefined>;

interface Json {
  [k: string]: unknown;
}

interface PhaseJson {
  index: number;
  name: string;
  percent: number | null;
  bakeS: number;
  state: string;
  devices: string[];
  startedMs: number | null;
  endedMs: number | null;
  verdict: string | null;
}

interface RolloutJson {
  id: string;
  model: string;
  fromVersion: string | null;
  toVersion: string;
  state: string;
  currentPhase: number;
  pauseReason: string | null;
  createdMs: number;
  production: { moved: boolean; message: string } | null;
  phases: PhaseJson[];
  devices: { deviceId: string; phase: number; state: string; deploySeq: number | null }[];
  analyses: { phase: number; verdict: string; reasons: string[] }[];
  counts: Record<string, number>;
}

function usage(detail: string): never {
  throw new EdgeloopError('EDGELOOP_ERR_USAGE', detail);
}

function num(values: Values, flag: string): number | undefined {
  const v = values[flag];
  if (typeof v !== 'string') return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) usage(`--${flag} ${v}: expected a number`);
  return n;
}

const list = (v: string | boolean | string[] | undefined): string[] | undefined =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
    : undefined;

export function planFromFlags(values: Values): Json {
  const model = values.model;
  const to = values.to;
  if (typeof model !== 'string' || typeof to !== 'string')
    usage('start needs --model <name> and --to <version>');
  const plan: Json = { model, toVersion: to };
  if (typeof values.from === 'string') plan.fromVersion = values.from;
  const devices = list(values.devices);
  if (devices !== undefined) plan.devices = devices;
  const canaryDevices = list(values['canary-devices']);
  const canaryPercent = num(values, 'canary-percent');
  if (canaryDevices !== undefined && canaryPercent !== undefined)
    usage('give --canary-devices or --canary-percent, not both');
  if (canaryDevices !== undefined) plan.canary = { devices: canaryDevices };
  if (canaryPercent !== undefined) plan.canary = { percent: canaryPercent };
  const bake = num(values, 'canary-bake-s');
  if (bake !== undefined) plan.canaryBakeS = bake;
  const phases = list(values.phases);
  if (phases !== undefined)
    plan.phases = phases.map((p) => {
      const m = /^([0-9.]+):([0-9.]+)$/.exec(p);
      if (m === null) usage(`--phases ${p}: expected percent:bakeSeconds, e.g. 50:60`);
      return { percent: Number(m[1]), bakeS: Number(m[2]) };
    });
  const seed = num(values, 'seed');
  if (seed !== undefined) plan.seed = seed;
  const timeout = num(values, 'device-timeout-s');
  if (timeout !== undefined) plan.deviceTimeoutS = timeout;
  const analysis = list(values.analysis);
  if (analysis !== undefined) {
    const a: Record<string, number> = {};
    for (const kv of analysis) {
      const [k, v] = kv.split('=');
      const n = Number(v);
      if (k === undefined || k === '' || v === undefined || !Number.isFinite(n))
        usage(`--analysis ${kv}: expected name=number, e.g. minWindows=50`);
      a[k] = n;
    }
    plan.analysis = a;
  }
  if (values.manual === true) plan.autoProceed = false;
  if (typeof values.reason === 'string') plan.reason = values.reason;
  return plan;
}

interface Client {
  call(method: string, path: string, body?: unknown): Promise<Json>;
}

function client(values: Values, env: CliIO['env']): Client {
  const url =
    typeof values.url === 'string' ? values.url : (env.EDGELOOP_COLLECTOR_URL ?? DEFAULT_COLLECTOR_URL);
  if (!/^https?:\/\/[^/]/.test(url))
    usage(`--url ${url}: must be an http(s) URL, e.g. ${DEFAULT_COLLECTOR_URL}`);
  const base = url.replace(/\/+$/, '');
  const token = typeof values.token === 'string' ? values.token : (env.EDGELOOP_REGISTRY_TOKEN ?? '');
  return {
    async call(method, path, body) {
      const headers: Record<string, string> = {};
      if (token !== '') headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      let res: Response;
      try {
        res = await fetch(`${base}/api/v1${path}`, {
          method,
          headers,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (err) {
        const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
        throw new Refused(
          'EDGELOOP_ERR_ROLLOUT_UNREACHABLE',
          `${base}: ${cause}. ${errorCatalogue.EDGELOOP_ERR_ROLLOUT_UNREACHABLE}`,
        );
      }
      const text = await res.text();
      let parsed: Json = {};
      try {
        parsed = JSON.parse(text) as Json;
      } catch {
        // not JSON: the status line below says what came back
      }
      if (res.ok) return parsed;
      const e = (parsed.error ?? {}) as { code?: string; message?: string };
      const code: ErrorCode = isErrorCode(e.code) ? e.code : statusCode(res.status);
      throw new Refused(code, e.message ?? `HTTP ${res.status} ${text.slice(0, 200)}`);
    },
  };
}

const when = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString().slice(11, 19));

function counts(r: RolloutJson): string {
  return Object.entries(r.counts)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
}

export function rolloutText(r: RolloutJson): string {
  const lines = [
    `${r.id}  ${r.model} ${r.fromVersion ?? 'none'} -> ${r.toVersion}  ${r.state}${r.pauseReason === null ? '' : ` (${r.pauseReason})`}`,
    `devices: ${counts(r) || 'none'}`,
  ];
  if (r.production !== null) lines.push(`production: ${r.production.message}`);
  const out = `${lines.join('\n')}\n\n`;
  const phases = table([
    ['PHASE', 'PERCENT', 'BAKE_S', 'DEVICES', 'STATE', 'STARTED', 'ENDED', 'VERDICT'],
    ...r.phases.map((p) => [
      `${p.index === r.currentPhase && !['completed', 'rolled_back', 'aborted'].includes(r.state) ? '*' : ' '}${p.name}`,
      p.percent === null ? '-' : `${p.percent}%`,
      String(p.bakeS),
      String(p.devices.length),
      p.state,
      when(p.startedMs),
      when(p.endedMs),
      p.verdict ?? '-',
    ]),
  ]);
  const analyses = r.analyses
    .filter((a) => a.reasons.length > 0)
    .map((a) => `analysis of ${r.phases[a.phase]?.name ?? a.phase}: ${a.verdict}: ${a.reasons.join('; ')}\n`)
    .join('');
  return `${out}${phases}${analyses === '' ? '' : `\n${analyses}`}`;
}

const ENDED = new Set(['completed', 'rolled_back', 'aborted']);

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    // The listener goes when the timer fires: --wait polls for as long as a rollout runs, and a listener
    // left per poll piles up on the one signal (MaxListenersExceededWarning after 10).
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

async function follow(c: Client, id: string, values: Values, io: CliIO): Promise<number> {
  const interval = num(values, 'interval-ms') ?? 1000;
  let last = '';
  for (;;) {
    const { rollout: r } = (await c.call('GET', `/rollouts/${encodeURIComponent(id)}`)) as unknown as {
      rollout: RolloutJson;
    };
    const phase = r.phases[r.currentPhase];
    const line = `${r.id} ${r.state}: ${phase?.name ?? '-'} ${phase?.state ?? ''}; ${counts(r)}`;
    if (line !== last && values.json !== true) io.stdout.write(`${line}\n`);
    last = line;
    if (ENDED.has(r.state) || r.state === 'paused' || io.signal.aborted) {
      io.stdout.write(values.json === true ? `${JSON.stringify(r, null, 2)}\n` : `\n${rolloutText(r)}`);
      if (r.state === 'completed') return 0;
      if (r.state === 'paused') return 3;
      // Interrupted while the rollout goes on (it runs in the collector, not here): 130, as for Ctrl-C
      // elsewhere, so a script never reads it as rolled back.
      if (!ENDED.has(r.state)) {
        io.stderr.write(`stopped following ${r.id}; it is still ${r.state} in the collector\n`);
        return 130;
      }
      return 1;
    }
    await sleep(interval, io.signal);
  }
}

async function runSub(sub: string, positionals: string[], values: Values, io: CliIO): Promise<number> {
  const c = client(values, io.env);
  const print = (value: unknown, text: () => string): number => {
    io.stdout.write(values.json === true ? `${JSON.stringify(value, null, 2)}\n` : text());
    return 0;
  };
  const oneId = (): string => {
    if (positionals.length !== 1) usage(`expected: edgeloop rollout ${sub} <id>`);
    return positionals[0] as string;
  };
  switch (sub) {
    case 'start': {
      if (positionals.length > 0) usage(`start takes no positional argument (got ${positionals.join(' ')})`);
      const body = await c.call('POST', '/rollouts', planFromFlags(values));
      const r = body.rollout as RolloutJson;
      if (values.wait === true) {
        if (values.json !== true) io.stdout.write(`started ${r.id}\n`);
        return follow(c, r.id, values, io);
      }
      return print(body, () => `started ${r.id}\n\n${rolloutText(r)}`);
    }
    case 'status': {
      if (positionals.length > 1) usage('expected: edgeloop rollout status [<id>]');
      if (positionals.length === 1) {
        const body = await c.call('GET', `/rollouts/${encodeURIComponent(positionals[0] as string)}`);
        return print(body, () => rolloutText(body.rollout as RolloutJson));
      }
      const q = new URLSearchParams();
      if (typeof values.state === 'string') q.set('state', values.state);
      if (typeof values.model === 'string') q.set('model', values.model);
      q.set('limit', typeof values.limit === 'string' ? values.limit : '20');
      const body = await c.call('GET', `/rollouts?${q.toString()}`);
      const rows = body.rollouts as RolloutJson[];
      return print(body, () =>
        rows.length === 0
          ? 'no rollouts\n'
          : table([
              ['ID', 'MODEL', 'FROM', 'TO', 'STATE', 'PHASE', 'DEVICES', 'CREATED'],
              ...rows.map((r) => [
                r.id,
                r.model,
                r.fromVersion ?? '-',
                r.toVersion,
                r.state,
                r.phases[r.currentPhase]?.name ?? '-',
                counts(r),
                new Date(r.createdMs).toISOString(),
              ]),
            ]),
      );
    }
    case 'pause':
    case 'abort': {
      const id = oneId();
      const body = await c.call('POST', `/rollouts/${encodeURIComponent(id)}/${sub}`, {
        ...(typeof values.reason === 'string' ? { reason: values.reason } : {}),
      });
      return print(body, () => rolloutText(body.rollout as RolloutJson));
    }
    case 'resume': {
      const id = oneId();
      const body = await c.call('POST', `/rollouts/${encodeURIComponent(id)}/resume`, {});
      return print(body, () => rolloutText(body.rollout as RolloutJson));
    }
    case 'inventory': {
      const body = await c.call('GET', '/inventory');
      const rows = body.devices as {
        deviceId: string;
        model: { name: string; version: string } | null;
        state: string | null;
        deploySeq: number | null;
        online: boolean | null;
        rolloutId: string | null;
      }[];
      return print(body, () =>
        table([
          ['DEVICE', 'MODEL', 'STATE', 'DEPLOY_SEQ', 'ONLINE', 'ROLLOUT'],
          ...rows.map((d) => [
            d.deviceId,
            d.model === null ? '-' : `${d.model.name}@${d.model.version}`,
            d.state ?? '-',
            d.deploySeq === null ? '-' : String(d.deploySeq),
            d.online === null ? '-' : d.online ? 'yes' : 'no',
            d.rolloutId ?? '-',
          ]),
        ]),
      );
    }
    default:
      usage(`unknown subcommand "${sub}" (start, status, pause, resume, abort, inventory)`);
  }
}

async function run(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    io.stdout.write(help);
    return sub === undefined ? 2 : 0;
  }
  try {
    const { values, positionals } = parseCliArgs(rest, options, true);
    if (values.help === true) {
      const h = subHelp[sub];
      io.stdout.write(h === undefined ? help : `${h}\n${common}\n`);
      return 0;
    }
    return await runSub(sub, positionals, values, io);
  } catch (err) {
    if (err instanceof Refused) {
      io.stderr.write(`edgeloop rollout ${sub}: ${err.message} [${err.code}]\n`);
      return 1;
    }
    if (err instanceof EdgeloopError) {
      io.stderr.write(`edgeloop rollout ${sub}: ${err.message} [${err.code}]\n`);
      return exitCodeFor(err.code);
    }
    throw err;
  }
}

export const rolloutCommand: Command = {
  summary: 'roll a model version out to the fleet: start, status, pause, resume, abort',
  help,
  run,
};
