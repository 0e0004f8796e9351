// Runs the agent's ingestion in-process against a real serial port path, the way `edgeloop agent` wires
// it: the real serialport binding, the reconnecting reader, the ingest pipeline. Tests read its counters.
import { openSerialPort } from '../../agent/adapters/serialport.ts';
import { IngestPipeline, type IngestNotice, type IngestOptions } from '../../agent/ingest/pipeline.ts';
import { SerialReader } from '../../agent/ingest/serial-reader.ts';
import type { Window } from '../../shared/samples.ts';

export interface AgentHarness {
  readonly pipeline: IngestPipeline;
  readonly reader: SerialReader;
  readonly windows: Window[];
  readonly notices: IngestNotice[];
  samplesReceived(): number;
  close(): Promise<void>;
}

export function startAgent(portPath: string, options: IngestOptions = {}): AgentHarness {
  const windows: Window[] = [];
  const notices: IngestNotice[] = [];
  const pipeline = new IngestPipeline(
    options,
    (w) => windows.push(w),
    (n) => notices.push(n),
  );
  const reader = new SerialReader({
    open: () => openSerialPort({ path: portPath, baudRate: 921_600 }),
    pipeline,
    backoff: { baseMs: 20, capMs: 200, floorMs: 5 },
  });
  reader.start();
  return {
    pipeline,
    reader,
    windows,
    notices,
    samplesReceived: () => Object.values(pipeline.stats().stream.samples).reduce((a, b) => a + b, 0),
    close: () => reader.close(),
  };
}

/** Polls `cond` every 20 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}
