// The demo's devices (docs/demo.md): per device a firmware-sim board on its own virtual serial port (socat
// pty, in this process) and a real `edgeloop agent` process reading the other end and publishing to the
// collector's broker; with --fleet, one `edgeloop sim --fleet` process of telemetry-only devices. Every
// child's output goes to a log file in the data directory. stop() ends them all: the boards first, then
// SIGTERM to the children (SIGKILL after a grace period), then the ptys.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScenario, ptyOutput, runSim, type SimSummary, type Speed } from '../../firmware-sim/index.ts';
import { EdgeloopError } from '../../shared/errors.ts';
import { packageRoot } from './baseline.ts';
import { demoScenario, FLEET_PREFIX, type DemoDevice } from './plan.ts';

const STOP_GRACE_MS = 8000;

export interface DeviceLinks {
  readonly mqttUrl: string;
  readonly registryUrl: string;
  /** Device id → broker password (the collector's credentials file). */
  readonly passwords: Readonly<Record<string, string>>;
  readonly credentialsFile: string;
  readonly trustedKeys: readonly string[];
  readonly dataDir: string;
  readonly speed: Speed;
  readonly durationS: number;
  readonly env: Record<string, string | undefined>;
}

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly log: string;
  readonly exited: Promise<number | null>;
}

/** The package's bin/edgeloop.js, from the sources (cli/demo/) or from dist (dist/cli/demo/). */
function edgeloopBin(): { path: string; fromSource: boolean } {
  return {
    path: fileURLToPath(new URL('bin/edgeloop.js', packageRoot())),
    fromSource: import.meta.url.endsWith('.ts'),
  };
}

function startChild(
  name: string,
  args: readonly string[],
  env: Record<string, string | undefined>,
  log: string,
  onExit: (name: string, code: number | null, log: string) => void,
): Child {
  const bin = edgeloopBin();
  const out: WriteStream = createWriteStream(log, { flags: 'a' });
  const child = spawn(process.execPath, [bin.path, ...args], {
    env: { ...env, ...(bin.fromSource ? { EDGELOOP_FROM_SOURCE: '1' } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(out, { end: false });
  child.stderr.pipe(out, { end: false });
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      out.write(`spawn failed: ${err.message}\n`);
      resolve(null);
    });
    child.once('exit', (code, signal) => {
      out.end(`\n[${name} exited: ${code === null ? String(signal) : String(code)}]\n`);
      onExit(name, code, log);
      resolve(code);
    });
  });
  return { name, process: child, log, exited };
}

export interface RunningDevices {
  /** The boards' summaries once they end (after stop()). */
  readonly sims: Promise<SimSummary[]>;
  /** Device time the slowest board has reached, s. */
  deviceTimeS(): number;
  /** Stops boards, agents, the fleet and the ptys; idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts every device. onExit hears of a child that ends before stop() (a crashed agent): the demo
 * reports it with its log rather than waiting for telemetry that never comes.
 */
export async function startDevices(
  devices: readonly DemoDevice[],
  fleet: number,
  fleetSeed: number,
  links: DeviceLinks,
  onExit: (name: string, code: number | null, log: string) => void,
): Promise<RunningDevices> {
  const stopBoards = new AbortController();
  const children: Child[] = [];
  const closers: (() => Promise<void>)[] = [];
  const sims: Promise<SimSummary>[] = [];
  const reached = new Map<string, number>();
  let stopping = false;
  const exitUnlessStopping = (name: string, code: number | null, log: string): void => {
    if (!stopping) onExit(name, code, log);
  };
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    stopBoards.abort();
    await Promise.allSettled(sims);
    for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGKILL');
    }, STOP_GRACE_MS);
    await Promise.allSettled(children.map((c) => c.exited));
    clearTimeout(killer);
    for (const close of closers) await close().catch(() => undefined);
  };
  try {
    for (const d of devices) {
      // The pty links live in the data directory, so every process the demo starts names it.
      const serialDir = join(links.dataDir, 'serial', d.deviceId);
      mkdirSync(serialDir, { recursive: true });
      const pty = await ptyOutput({ dir: serialDir });
      if (!pty.ok) throw new EdgeloopError(pty.code, pty.message);
      closers.push(() => pty.value.close());
      const password = links.passwords[d.deviceId];
      if (password === undefined)
        throw new EdgeloopError('EDGELOOP_ERR_INTERNAL', `no password for ${d.deviceId}`);
      const args = [
        'agent',
        '--serial',
        pty.value.target,
        '--device-id',
        d.deviceId,
        '--mqtt',
        links.mqttUrl,
        '--mqtt-username',
        d.deviceId,
        '--data-dir',
        join(links.dataDir, `agent-${d.deviceId}`),
        '--trusted-key',
        links.trustedKeys.join(','),
        '--registry',
        links.registryUrl,
        '--metrics-port',
        '0',
        // A short health window after a model swap: the demo's rollout bakes are short too.
        '--model-health-windows',
        '4',
        '--log-format',
        'json',
      ];
      children.push(
        startChild(
          `agent ${d.deviceId}`,
          args,
          { ...links.env, EDGELOOP_MQTT_PASSWORD: password },
          join(links.dataDir, `agent-${d.deviceId}.log`),
          exitUnlessStopping,
        ),
      );
      const scenario = parseScenario(d.scenario, d.deviceId);
      if (!scenario.ok) throw new EdgeloopError(scenario.code, scenario.message);
      sims.push(
        runSim({
          scenario: scenario.value,
          seed: d.seed,
          speed: links.speed,
          out: pty.value,
          deviceId: d.deviceId,
          durationS: links.durationS,
          signal: stopBoards.signal,
          onProgress: (p) => {
            reached.set(d.deviceId, p.timeS);
          },
        }),
      );
    }
    if (fleet > 0) children.push(startFleet(fleet, fleetSeed, links, exitUnlessStopping));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    sims: Promise.all(sims),
    deviceTimeS: () => (reached.size < devices.length ? 0 : Math.min(...reached.values())),
    stop,
  };
}

/**
 * `edgeloop sim --fleet n`: steady devices filling the fleet. Each computes its first 60 windows and
 * replays them in a ring (--replay, about 50x cheaper), in real time, so hundreds keep up on a 2-core
 * machine; scenario events would not survive the ring, so the fleet has none.
 */
function startFleet(
  n: number,
  seed: number,
  links: DeviceLinks,
  onExit: (name: string, code: number | null, log: string) => void,
): Child {
  const steadyFile = join(links.dataDir, 'fleet-steady.json');
  writeFileSync(
    steadyFile,
    JSON.stringify(demoScenario('demo-steady', 'fleet', links.durationS, []), null, 2),
  );
  return startChild(
    `sim --fleet ${String(n)}`,
    [
      'sim',
      '--fleet',
      String(n),
      '--mqtt',
      links.mqttUrl,
      '--prefix',
      FLEET_PREFIX,
      '--mqtt-credentials',
      links.credentialsFile,
      '--scenario',
      steadyFile,
      '--replay',
      '60',
      '--seed',
      String(seed),
      // Real time: the fleet fills the view and does not play the story, and at the demo's speed a few
      // hundred devices fall behind (their sender clocks then leap against device time, an alert each).
      '--speed',
      '1',
      '--duration',
      String(links.durationS),
    ],
    links.env,
    join(links.dataDir, 'fleet.log'),
    onExit,
  );
}
