// A virtual serial cable: socat joins two pseudo-terminals and links them at <dir>/device (the board's
// end) and <dir>/port (the agent's end). Why socat and not node-pty: docs/firmware-sim.md §"Why socat".
// Killing socat is an unplug (the agent's port disappears); starting it again at the same link paths is a
// replug, exactly what a USB-serial adapter does to /dev/serial/by-id/... links.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EdgeloopError, fail, ok, type Result } from '../../shared/errors.ts';
import type { SimOutput } from '../output.ts';
import { DEFAULT_BAUD, openSerial, type SerialHandle } from './serial.ts';
import { writeWithBackpressure } from './stream-output.ts';

const READY_TIMEOUT_MS = 5000;

export interface VirtualSerialPair {
  /** The board's end: the simulator writes here. */
  readonly devicePath: string;
  /** The agent's end. */
  readonly portPath: string;
  readonly plugged: boolean;
  /** Kills socat and removes both links: the agent's port goes away. Idempotent. */
  unplug(): Promise<void>;
  /** Starts socat again with the same link paths. */
  replug(): Promise<void>;
  /** Unplugs for good, and removes the directory if this pair created it. */
  close(): Promise<void>;
  /** Called when socat exits by itself (killed from outside): the cable is gone. */
  onUnexpectedExit(listener: () => void): void;
}

export interface VirtualSerialOptions {
  /** Directory for the two links; a fresh temporary directory when absent. */
  readonly dir?: string | undefined;
  /** Program to run (tests point it at a missing binary to check the error). Default "socat". */
  readonly socat?: string | undefined;
}

// socat runs under a small sh guard that holds a pipe from us: when this process dies in any way (even
// SIGKILL) the pipe closes, `cat` ends and the guard kills socat, so no orphan keeps the ptys alive. The
// guard exits when socat does; closing its stdin is how we unplug.
// (An asynchronous list's stdin is /dev/null unless redirected explicitly, hence fd 3.)
const GUARD =
  'exec 3<&0; bin=$1; shift; "$bin" "$@" & s=$!; (cat <&3 >/dev/null; kill $s 2>/dev/null) & wait $s';

async function startSocat(bin: string, devicePath: string, portPath: string): Promise<Result<ChildProcess>> {
  const args = ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${portPath}`];
  // Its own process group: a Ctrl-C in the terminal goes to the whole foreground group, and socat dying
  // first would pull the pty from under the run before it can stop cleanly and write its ground truth.
  // The guard above still ends socat when we exit.
  const child = spawn('sh', ['-c', GUARD, 'sh', bin, ...args], {
    stdio: ['pipe', 'ignore', 'pipe'],
    detached: true,
  });
  let log = '';
  const ready = await new Promise<Result<ChildProcess>>((resolve) => {
    const timer = setTimeout(() => {
      resolve(fail('EDGELOOP_ERR_PTY', `socat did not start within ${READY_TIMEOUT_MS} ms: ${log.trim()}`));
    }, READY_TIMEOUT_MS);
    timer.unref();
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve(fail('EDGELOOP_ERR_PTY', `cannot run sh for ${bin}: ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      // 127: the shell could not find the program.
      const detail =
        code === 127
          ? `${bin} not found (apt-get install socat)`
          : `socat exited with code ${code ?? 'null'}: ${log.trim()}`;
      resolve(fail('EDGELOOP_ERR_PTY', detail));
    });
    child.stderr.on('data', (d: Buffer) => {
      if (log.length < 4096) log += d.toString();
      // socat -d -d logs this once both ptys exist and both links are made.
      if (log.includes('starting data transfer loop')) {
        clearTimeout(timer);
        resolve(ok(child));
      }
    });
  });
  if (!ready.ok) child.stdin.end();
  else child.stderr.resume();
  return ready;
}

async function stopSocat(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  timer.unref();
  await exited;
  clearTimeout(timer);
}

/** Why `dir` cannot hold the pty links (missing, not a directory, not writable), or undefined if it can. */
function checkLinkDir(dir: string): string | undefined {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    return `pty directory ${dir} does not exist: create it, or leave out --pty-dir for a temporary one`;
  }
  if (!isDir) return `pty directory ${dir} is not a directory`;
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    return `pty directory ${dir} is not writable`;
  }
  return undefined;
}

/** Creates the pair and waits until both links exist. Fails with EDGELOOP_ERR_PTY when socat is missing,
 * EDGELOOP_ERR_PATH when `dir` is missing, not a directory or not writable. */
export async function createVirtualSerialPair(
  opts: VirtualSerialOptions = {},
): Promise<Result<VirtualSerialPair>> {
  const ownDir = opts.dir === undefined;
  if (opts.dir !== undefined) {
    // socat would only say it could not make the link, which reads as "socat is broken": name the path.
    const bad = checkLinkDir(opts.dir);
    if (bad !== undefined) return fail('EDGELOOP_ERR_PATH', bad);
  }
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'edgeloop-sim-'));
  const devicePath = join(dir, 'device');
  const portPath = join(dir, 'port');
  const bin = opts.socat ?? 'socat';
  const removeLinks = (): void => {
    rmSync(devicePath, { force: true });
    rmSync(portPath, { force: true });
  };
  removeLinks();
  const first = await startSocat(bin, devicePath, portPath);
  if (!first.ok) {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    return first;
  }
  let child: ChildProcess | null = null;
  let closed = false;
  const exitListeners: (() => void)[] = [];
  const adopt = (c: ChildProcess): void => {
    child = c;
    c.once('exit', () => {
      if (child !== c) return; // unplug() already let it go
      child = null;
      removeLinks();
      for (const l of exitListeners) l();
    });
  };
  adopt(first.value);
  const pair: VirtualSerialPair = {
    devicePath,
    portPath,
    get plugged() {
      return child !== null;
    },
    async unplug() {
      if (child === null) return;
      const c = child;
      child = null;
      await stopSocat(c);
      removeLinks();
    },
    async replug() {
      if (closed) throw new EdgeloopError('EDGELOOP_ERR_PTY', 'replug after close');
      if (child !== null) return;
      const r = await startSocat(bin, devicePath, portPath);
      if (!r.ok) throw new EdgeloopError(r.code, r.message);
      adopt(r.value);
    },
    async close() {
      if (closed) return;
      closed = true;
      await pair.unplug();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
    onUnexpectedExit(listener) {
      exitListeners.push(listener);
    },
  };
  return ok(pair);
}

/** `--out pty`: a virtual pair whose device end the simulator writes through serialport. */
export async function ptyOutput(
  opts: VirtualSerialOptions & { baudRate?: number } = {},
): Promise<Result<SimOutput & { pair: VirtualSerialPair }>> {
  const p = await createVirtualSerialPair(opts);
  if (!p.ok) return p;
  const pair = p.value;
  const baud = opts.baudRate ?? DEFAULT_BAUD;
  const first = await openSerial(pair.devicePath, baud);
  if (!first.ok) {
    await pair.close();
    return first;
  }
  let handle: SerialHandle | null = first.value;
  let listener: ((chunk: Uint8Array) => void) | null = null;
  let closed = false;
  // If socat dies under us, close our end at once: serialport would otherwise spin on the hung-up pty.
  pair.onUnexpectedExit(() => {
    const h = handle;
    handle = null;
    if (h !== null) void h.close();
  });
  const attach = (h: SerialHandle): void => {
    if (listener !== null) h.onData(listener);
  };
  return ok({
    kind: 'pty',
    target: pair.portPath,
    pair,
    async write(bytes, signal) {
      // While unplugged the bytes have nowhere to go; the board already counts them lost.
      if (handle === null) return;
      await writeWithBackpressure(handle.port, bytes, signal);
    },
    onData(l) {
      listener = l;
      if (handle !== null) attach(handle);
    },
    async unplug() {
      const h = handle;
      handle = null;
      if (h !== null) await h.close();
      await pair.unplug();
    },
    async replug() {
      if (closed || handle !== null) return;
      await pair.replug();
      const r = await openSerial(pair.devicePath, baud);
      if (!r.ok) throw new EdgeloopError(r.code, r.message);
      handle = r.value;
      attach(handle);
    },
    async close() {
      if (closed) return;
      closed = true;
      const h = handle;
      handle = null;
      if (h !== null) await h.close();
      await pair.close();
    },
  });
}
