// The agent's public entry point: what other folders (cli/, tests, benchmarks) may use of agent/.
// Named re-exports only; everything else under agent/ is internal and may move.
//
//   const config = loadAgentConfig({ serial: '/dev/ttyUSB0' }, process.env);
//   const agent = await startAgent(config, { log, onWindow: (w) => ..., onReaderState: (s) => ... });
//   await agent.done;             // config.maxWindows windows, or never: close on a signal instead
//   await agent.close();
//
// Without config.mqtt only the ingestion half runs (serial reader → decoder → checks → windows), which
// is what `edgeloop demo` and the serial tests need; with it, the full runtime.

export {
  AGENT_VERSION,
  startAgent,
  type AgentDeps,
  type AgentRuntime,
  type AgentRuntimeStats,
  type AgentServices,
} from './main.ts';
export { agentDefaults, agentOptionNames, loadAgentConfig, type AgentConfig } from './config.ts';
export { noticeLine, readerLine } from './runtime/log-events.ts';
export { formatWindowLine, windowSummary } from './ingest/format.ts';
export { CaptureSummary } from './ingest/summary.ts';
export type { IngestNotice, IngestStats } from './ingest/pipeline.ts';
// `edgeloop features`: feature vectors from a capture or a simulated board's bytes (docs/features.md).
export {
  featureRows,
  type FeatureRow,
  type FeatureRowsOptions,
  type FeatureRowsResult,
} from './ingest/feature-rows.ts';
export type { PortOpener, ReaderState, ReaderStats } from './ingest/serial-reader.ts';
