// The collector's public entry point (issue #7 §3): what the CLI, the composition root of every process,
// may use. cli/ imports collector/ through this file only (eslint.config.js, zone "cli"). Named re-exports
// only; a name missing here is internal.

// Training: lab data (through an injected simulator), search, final fit, ONNX export, bundle files.
export {
  generateLabData,
  windowLabel,
  LAB_EPOCH_MS,
  type LabData,
  type LabDataOptions,
  type LabDataSummary,
  type LabDevice,
  type LabProgress,
} from './training/lab-data.ts';
export type {
  LabBoard,
  LabBoardSpec,
  LabConditions,
  LabSimulator,
  LabTrueState,
} from './training/lab-simulator.ts';
export {
  collectLineageEnv,
  goldenData,
  manifestMetrics,
  trainBundleFiles,
  DATASET_FILE,
  MODEL_FILE,
  TRAIN_REFERENCE_SAMPLE,
  type LineageEnv,
  type TrainBundleInput,
} from './training/bundle.ts';
export { DEFAULT_SEARCH_SPACE, type SearchOptions, type SearchSpace } from './training/search.ts';
export { trainModel, type TrainModelOptions, type TrainModelResult } from './training/train.ts';

// Bundles on disk and the registry.
export {
  isArchivePath,
  readBundle,
  readBundleArchive,
  readBundleDir,
  readTrustedKeys,
  verifyBundleDir,
  writeBundleArchive,
  writeBundleContents,
  writeBundleDir,
} from './registry/bundle-io.ts';
export { parseRegistryTokens, type RegistryToken } from './registry/auth.ts';
export { createRegistryServer, type RegistryServer, type RegistryServerOptions } from './registry/server.ts';
export {
  loadRegistryServeConfig,
  registryServeDefaults,
  type RegistryServeConfig,
} from './registry/serve-config.ts';
export { packageOnnxModel, parseFeatureCsv, type ByoModelInput } from './registry/byo.ts';
export { loadOnnxSession } from '../shared/platform/onnx.ts';

// Drift statistics and the offline comparison (issue #9 §4-5, docs/drift.md).
export { NumericCsvParser, type NumericCsv } from './drift/csv.ts';
export { currentFromColumn, referenceFromColumn, referenceFromProfile } from './drift/reference.ts';
export { driftMethods, evaluateColumn } from './drift/evaluate.ts';
export {
  driftDefaults,
  type ColumnResult,
  type DriftOptions,
  type MethodResult,
  type Verdict,
} from './drift/types.ts';

// Collector storage (issue #9 §2, docs/storage.md).
export {
  openSqliteTelemetryStore,
  storageDefaults,
  type SqliteStoreOptions,
} from './storage/sqlite-store.ts';
export type {
  AlertInput,
  AlertQuery,
  AlertRecord,
  DeviceRecord,
  IncomingMessage,
  RollupRecord,
  TelemetryStore,
  WindowRecord,
  WriteBatchResult,
} from './storage/types.ts';

// The collector process (issue #9 §1-2, docs/collector.md): options, composition root.
export { collectorDefaults, loadCollectorConfig, type CollectorConfig } from './config.ts';
export { startCollector, type Collector, type CollectorDeps } from './main.ts';

// Retraining on captured data (issue 10 §2, docs/retraining.md): the collector-side service, and the job
// the child process (cli/retrain-worker.ts) runs with firmware-sim's boards injected.
export { createRetraining, type RetrainingDeps, type RetrainingService } from './retrain/retraining.ts';
export { runRetrainJob, type WorkerResult as RetrainWorkerResult } from './retrain/worker.ts';
export type {
  StartMessage as RetrainStartMessage,
  WorkerMessage as RetrainWorkerMessage,
} from './retrain/runner.ts';
export type {
  RetrainInput,
  RetrainSources,
  Retraining,
  TrainingJobState,
  TrainingJobView,
} from './retrain/types.ts';
export { trainingRoutes, type TrainingRouteOptions } from './api/training.ts';
export { buildRetrainRows, type RetrainRows, type RetrainRowsInput } from './retrain/dataset.ts';
export {
  capturedDigest,
  summarizeSources,
  type CapturedWindow,
  type LabelInterval,
  type LabelSource,
  type SourcedRow,
} from './retrain/assemble.ts';
export { openExplainModel, type ExplainModel } from './explain/model.ts';
export { barChart } from './explain/render.ts';
export { explainWindow, type WindowExplanation } from './explain/shapley.ts';
