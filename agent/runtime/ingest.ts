// The ingestion half of the agent: serial port → SerialReader → IngestPipeline → windows and notices.
// It is the data source, so it is built first; consumers (print mode's printer, the runtime services)
// subscribe before start(), and nothing flows until then.

import type { BackoffOptions } from '../../shared/backoff.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import type { Window } from '../../shared/samples.ts';
import { openSerialPort } from '../adapters/serialport.ts';
import type { AgentConfig } from '../config.ts';
import { IngestPipeline, type IngestNotice } from '../ingest/pipeline.ts';
import { SerialReader, type PortOpener, type ReaderState } from '../ingest/serial-reader.ts';
import { logReaderState, noticeLogger } from './log-events.ts';

export interface IngestSubscriber {
  /** Every window, in order. */
  window?(w: Window): void;
  /** Every notice (HELLO, gaps, drops), before it is logged. */
  notice?(n: IngestNotice): void;
  /** Every serial reader state change. */
  readerState?(s: ReaderState): void;
}

export interface IngestHalf {
  readonly pipeline: IngestPipeline;
  readonly reader: SerialReader;
  /** Resolves once config.maxWindows windows closed (never when maxWindows is 0). */
  readonly done: Promise<void>;
  /** Windows closed so far. */
  windows(): number;
  /** Adds a consumer; only before start() (a late subscriber would miss the first windows). */
  subscribe(s: IngestSubscriber): void;
  /** Opens the port (retrying with backoff) and starts reading. */
  start(): void;
  /** Closes the reader, which flushes the last windows to the subscribers. Idempotent. */
  close(): Promise<void>;
}

export interface IngestDeps {
  readonly log: Logger;
  /** Default: the serialport adapter on config.serial at config.baud. */
  readonly openPort?: PortOpener | undefined;
  readonly serialBackoff?: BackoffOptions | undefined;
}

export function createIngest(config: AgentConfig, deps: IngestDeps): IngestHalf {
  const subscribers: IngestSubscriber[] = [];
  let started = false;
  let windows = 0;
  let signalDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (signalDone = resolve));
  const logNotice = noticeLogger(deps.log, config);

  const pipeline = new IngestPipeline(
    {
      mode: config.mode,
      windowMs: config.windowMs,
      hopMs: config.hopMs,
      ...(config.csvChannels === ''
        ? {}
        : { csvChannels: config.csvChannels.split(',').map((s) => s.trim()) }),
      ...(config.deviceId === '' ? {} : { deviceId: config.deviceId }),
      maxWindows: config.maxWindows,
    },
    (w) => {
      windows++;
      for (const s of subscribers) s.window?.(w);
      if (config.maxWindows > 0 && windows >= config.maxWindows) signalDone();
    },
    (n) => {
      for (const s of subscribers) s.notice?.(n);
      logNotice(n);
    },
  );
  const reader = new SerialReader({
    open: deps.openPort ?? (() => openSerialPort({ path: config.serial, baudRate: config.baud })),
    pipeline,
    ...(deps.serialBackoff === undefined ? {} : { backoff: deps.serialBackoff }),
    onState: (st) => {
      for (const s of subscribers) s.readerState?.(st);
      logReaderState(deps.log, config, st);
    },
  });

  return {
    pipeline,
    reader,
    done,
    windows: () => windows,
    subscribe: (s) => {
      if (started) throw new Error('subscribe before start()');
      subscribers.push(s);
    },
    start: () => {
      started = true;
      reader.start();
    },
    close: () => reader.close(),
  };
}
