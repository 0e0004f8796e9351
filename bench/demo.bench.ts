// The demo's footprint (issue 11 §4): CPU and memory per real device (its `edgeloop agent` process; the
// board runs in the demo's process) and per `--fleet` device (one `sim --fleet` process), read from /proc
// while `edgeloop demo` runs at --speed 1 (real time), between the baseline's install and the story. The
// demo's own process (collector, broker, store, the boards) is reported too. Baseline: a fleet device,
// the cheapest device the demo runs, in the same run.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { liveProcessesNaming as processesNaming } from '../test/helpers/processes.ts';
import { median, section, type Row } from './lib.ts';

const FLEET = 200;
const DEVICES = 3;
const SAMPLE_S = 30;
const TICK = 100; // USER_HZ

/** CPU seconds (user + system) and resident MiB of a process. */
function usage(pid: number): { cpuS: number; rssMiB: number } {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuS = (Number(f[11]) + Number(f[12])) / TICK;
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'))?.[1] ?? '0';
  return { cpuS, rssMiB: Number(rss) / 1024 };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-demo-'));
  const dataDir = join(dir, 'data');
  const bin = fileURLToPath(new URL('../bin/edgeloop.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      bin,
      'demo',
      '--devices',
      String(DEVICES),
      '--fleet',
      String(FLEET),
      '--speed',
      '1',
      '--duration',
      '400',
      '--data-dir',
      dataDir,
    ],
    { env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    // The fleet process starts with the boards, after the baseline is trained (first run) and pushed.
    for (let i = 0; i < 3000 && !out.includes('boards on virtual serial ports'); i++) await sleep(200);
    const spawnedMs = Date.now();
    // Sampled once the baseline is installed and the maintenance log written (the story starts at 240 s).
    for (let i = 0; i < 600 && !out.includes('LABELS'); i++) await sleep(1000);
    if (!out.includes('LABELS')) throw new Error(`the demo did not get going:\n${out}`);
    await sleep(2000);
    const agents = processesNaming(dataDir).filter((p) => p.cmd.includes(' agent '));
    const fleet = processesNaming(dataDir).find((p) => p.cmd.includes(' sim --fleet '));
    if (agents.length !== DEVICES || fleet === undefined)
      throw new Error('agent or fleet processes not found');
    const demoPid = child.pid ?? 0;
    const pids = [demoPid, fleet.pid, ...agents.map((a) => a.pid)];
    /** CPU % of one core and median RSS MiB of each pid over seconds s. */
    const sample = async (s: number): Promise<Map<number, { cpu: number; rss: number }>> => {
      const before = new Map(pids.map((p) => [p, usage(p)]));
      const rss = new Map<number, number[]>(pids.map((p) => [p, []]));
      for (let i = 0; i < s; i++) {
        await sleep(1000);
        for (const p of pids) rss.get(p)?.push(usage(p).rssMiB);
      }
      return new Map(
        pids.map((p) => [
          p,
          { cpu: ((usage(p).cpuS - (before.get(p)?.cpuS ?? 0)) / s) * 100, rss: median(rss.get(p) ?? []) },
        ]),
      );
    };
    // The fleet computes each device's first 60 windows in full (60 s at --speed 1), then replays them.
    const computing = Date.now() - spawnedMs < 45_000 ? await sample(10) : undefined;
    await sleep(Math.max(0, spawnedMs + 75_000 - Date.now()));
    const steady = await sample(SAMPLE_S);
    const get = (p: number): { cpu: number; rss: number } => steady.get(p) ?? { cpu: NaN, rss: NaN };
    const agentCpu = agents.map((a) => get(a.pid).cpu);
    const agentRss = agents.map((a) => get(a.pid).rss);
    const fleetCpu = get(fleet.pid).cpu / FLEET;
    const fleetRss = get(fleet.pid).rss / FLEET;
    const demoCpu = get(demoPid).cpu;
    const demoRss = get(demoPid).rss;
    const computingCpu = computing?.get(fleet.pid)?.cpu;
    const rows: Row[] = [
      {
        metric: 'CPU per real device (its agent process), % of one core',
        median: median(agentCpu),
        baseline: fleetCpu,
      },
      { metric: 'memory per real device (agent RSS), MiB', median: median(agentRss), baseline: fleetRss },
      {
        metric: `the demo's process (collector, broker, store, ${String(DEVICES)} boards), % of one core`,
        median: demoCpu,
        baseline: fleetCpu * FLEET,
      },
      { metric: "the demo's process, RSS MiB", median: demoRss, baseline: get(fleet.pid).rss },
    ];
    process.stdout.write(
      section('Demo footprint', 'npm run bench -- demo', rows, [
        `\`edgeloop demo --devices ${String(DEVICES)} --fleet ${String(FLEET)} --speed 1\`, sampled from /proc over ${String(SAMPLE_S)} s of wall time from 75 s after the devices started (after the baseline's install, before the story at 240 s; ~1 window/s per device). Baseline for rows 1–2: one --fleet device (\`sim --fleet ${String(FLEET)} --replay 60\` process divided by ${String(FLEET)}); rows 3–4: the whole fleet process.`,
        `Agents (CPU %): ${agentCpu.map((x) => x.toFixed(1)).join(', ')}; agents (RSS MiB): ${agentRss.map((x) => x.toFixed(0)).join(', ')}. Fleet process: ${(fleetCpu * FLEET).toFixed(1)} % CPU, ${get(fleet.pid).rss.toFixed(0)} MiB for ${String(FLEET)} devices while replaying, and ${computingCpu === undefined ? '(not sampled)' : `${computingCpu.toFixed(0)} %`} over 10 s of its first minute, when it computes each device's first 60 windows in full: about the same, so the cost is the publishing, not the simulation. ${String(FLEET)} fleet devices need more than one of this machine's two cores; next to the demo they fall behind real time, and the collector flags each one's sender clock as jumping (seen in \`edgeloop demo --fleet 200\`). The boards (1 kHz accelerometer and gyroscope per device) run in the demo's process, so its CPU is mostly theirs.`,
        'Not measured yet: the largest fleet in real time with no loss, and the dashboard (not built).',
      ]),
    );
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
