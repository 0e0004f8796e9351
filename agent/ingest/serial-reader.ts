// Keeps a serial link open: opens the port, feeds its bytes to the ingest pipeline, and when the device is
// unplugged or the port vanishes, reopens it with jittered, capped backoff (never a spin) and asks the
// device for its HELLO again. Loss across the outage is counted by the pipeline from seq and sample-index
// gaps, so the agent reports exactly the gap it saw.

import type { Duplex } from 'node:stream';
import { Backoff, type BackoffOptions } from '../../shared/backoff.ts';
import type { Result } from '../../shared/errors.ts';
import { encodeWireFrame } from '../../shared/serial/decoder.ts';
import type { IngestPipeline } from './pipeline.ts';

export type PortOpener = () => Promise<Result<Duplex>>;

export interface SerialReaderOptions {
  readonly open: PortOpener;
  readonly pipeline: IngestPipeline;
  readonly backoff?: BackoffOptions;
  /** Called on state changes, for logs and metrics. */
  readonly onState?: (s: ReaderState) => void;
}

export type ReaderState =
  | { readonly kind: 'connected'; readonly attempt: number }
  | { readonly kind: 'disconnected'; readonly reason: string }
  | {
      readonly kind: 'openFailed';
      readonly code: string;
      readonly message: string;
      readonly retryInMs: number;
    };

export interface ReaderStats {
  connected: boolean;
  connects: number;
  disconnects: number;
  openFailures: number;
  helloRequests: number;
}

/** Longest wait for each step of closing a port (writes finishing, then the descriptor closing), ms. */
const CLOSE_STEP_MS = 500;

/** Runs `start`, then resolves on `event`, on an error, or after `ms`, whichever comes first. */
function boundedWait(port: Duplex, event: 'finish' | 'close', ms: number, start: () => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    timer.unref();
    function done(): void {
      clearTimeout(timer);
      port.off(event, done);
      port.off('error', done);
      resolve();
    }
    port.once(event, done);
    port.once('error', done);
    start();
  });
}

export class SerialReader {
  private port: Duplex | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private helloSeq = 0;
  readonly stats: ReaderStats = {
    connected: false,
    connects: 0,
    disconnects: 0,
    openFailures: 0,
    helloRequests: 0,
  };
  private disconnectWaiters: (() => void)[] = [];

  constructor(private readonly options: SerialReaderOptions) {
    this.backoff = new Backoff({ baseMs: 100, capMs: 5000, ...options.backoff });
  }

  start(): void {
    void this.connect();
  }

  /** Asks the device to describe itself (HELLO_REQUEST, docs/serial-protocol.md). */
  requestHello(): void {
    const port = this.port;
    if (port === undefined || this.options.pipeline.detectedMode === 'csv') return;
    this.stats.helloRequests++;
    port.write(encodeWireFrame({ type: 'helloRequest', seq: this.helloSeq++ }));
  }

  /** Resolves at the next disconnect (for tests and the demo). */
  waitForDisconnect(): Promise<void> {
    return new Promise((resolve) => this.disconnectWaiters.push(resolve));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const port = this.port;
    this.port = undefined;
    if (port !== undefined && !port.destroyed) {
      // end() and 'finish' first, so a HELLO_REQUEST still queued reaches the OS; bounded, because a
      // write to a device (or pty peer) that does not read can wait forever.
      if (!port.writableFinished) {
        await boundedWait(port, 'finish', CLOSE_STEP_MS, () => {
          if (!port.writableEnded) port.end();
        });
      }
      // destroy() closes the descriptor (agent/adapters/serialport.ts); also bounded, so shutdown never
      // hangs on a port that does not close.
      await boundedWait(port, 'close', CLOSE_STEP_MS, () => port.destroy());
    }
    this.options.pipeline.flush();
  }

  private isClosed(): boolean {
    return this.closed;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const r = await this.options.open();
    // close() may have run while the port was opening.
    if (this.isClosed()) {
      if (r.ok) r.value.destroy();
      return;
    }
    if (!r.ok) {
      this.stats.openFailures++;
      const retryInMs = this.backoff.next();
      this.options.onState?.({ kind: 'openFailed', code: r.code, message: r.message, retryInMs });
      this.timer = setTimeout(() => void this.connect(), retryInMs);
      this.timer.unref();
      return;
    }
    const port = r.value;
    this.port = port;
    this.stats.connected = true;
    this.stats.connects++;
    this.options.pipeline.connectionReset();
    this.options.onState?.({ kind: 'connected', attempt: this.backoff.attempts });
    this.backoff.reset();
    port.on('data', (chunk: Buffer) => {
      this.options.pipeline.push(chunk);
    });
    let gone = false;
    const lost = (reason: string): void => {
      if (gone) return;
      gone = true;
      if (this.port === port) this.port = undefined;
      this.stats.connected = false;
      if (this.closed) return;
      this.stats.disconnects++;
      this.options.onState?.({ kind: 'disconnected', reason });
      for (const w of this.disconnectWaiters.splice(0)) w();
      port.destroy();
      const retryInMs = this.backoff.next();
      this.timer = setTimeout(() => void this.connect(), retryInMs);
      this.timer.unref();
    };
    port.on('error', (err: Error) => {
      lost(err.message);
    });
    port.on('close', () => {
      lost('port closed');
    });
    port.on('end', () => {
      lost('end of stream');
    });
    // A device that is already streaming will not send HELLO again by itself after a replug.
    if (this.options.pipeline.detectedMode !== 'csv') this.requestHello();
  }
}
