// Runs the agent in-process against a real serial port path through its composition root (startAgent in
// print mode: no mqtt), exactly as `edgeloop agent --serial <path>` wires it: the real serialport binding,
// the reconnecting reader, the ingest pipeline. Tests read its windows, notices and counters.
import {
  loadAgentConfig,
  startAgent as startAgentRuntime,
  type AgentRuntime,
  type IngestNotice,
} from '../../agent/index.ts';
import type { Window } from '../../shared/samples.ts';

export interface AgentHarnessOptions {
  /** CSV column names (CSV boards). */
  readonly csvChannels?: readonly string[];
  /** The device id to report as (CSV boards do not name themselves). */
  readonly deviceId?: string;
}

export interface AgentHarness {
  readonly pipeline: AgentRuntime['pipeline'];
  readonly reader: AgentRuntime['reader'];
  readonly windows: Window[];
  readonly notices: IngestNotice[];
  samplesReceived(): number;
  close(): Promise<void>;
}

export async function startAgent(portPath: string, options: AgentHarnessOptions = {}): Promise<AgentHarness> {
  const windows: Window[] = [];
  const notices: IngestNotice[] = [];
  const config = loadAgentConfig(
    {
      serial: portPath,
      ...(options.csvChannels === undefined ? {} : { csvChannels: options.csvChannels.join(',') }),
      ...(options.deviceId === undefined ? {} : { deviceId: options.deviceId }),
    },
    {},
  );
  const agent = await startAgentRuntime(config, {
    onWindow: (w) => windows.push(w),
    onNotice: (n) => notices.push(n),
    // Fast reconnects: the unplug tests wait for the replug.
    serialBackoff: { baseMs: 20, capMs: 200, floorMs: 5 },
  });
  return {
    pipeline: agent.pipeline,
    reader: agent.reader,
    windows,
    notices,
    samplesReceived: () => Object.values(agent.stats().ingest.stream.samples).reduce((a, b) => a + b, 0),
    close: () => agent.close(),
  };
}
