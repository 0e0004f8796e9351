// The one catalogue of stable error codes (STYLE.md habit 5). The code, not the message, is the API:
// messages may be reworded, codes never change meaning. docs/errors.md documents every code, and
// test/unit/errors.test.ts fails when one is missing there.

export const errorCatalogue = {
  EDGELOOP_ERR_CONFIG_INVALID: 'A configuration value is invalid. Fix the option named in the message.',
  EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION: 'An option is not recognised. Check its spelling against --help.',
  EDGELOOP_ERR_USAGE: 'The command line is malformed. Run the command with --help.',
  EDGELOOP_ERR_NOT_AVAILABLE: 'This command is not available in this version of edgeloop yet.',
  EDGELOOP_ERR_PATH:
    'A file or directory the command needs is missing, is not a directory, or is not permitted. Check the path in the message, its parent directories and their permissions.',
  EDGELOOP_ERR_INTERNAL:
    'An unexpected error: a bug in edgeloop. Rerun with --debug for the stack trace and report it with the command line.',
  EDGELOOP_ERR_FRAME_CRC:
    'A serial frame failed its CRC-32 check and was dropped. Check cabling and baud rate.',
  EDGELOOP_ERR_FRAME_COBS: 'A serial frame was not valid COBS and was dropped. Check cabling and baud rate.',
  EDGELOOP_ERR_FRAME_TOO_LONG:
    'Bytes ran past the longest legal frame without a delimiter and were discarded. Check the baud rate.',
  EDGELOOP_ERR_FRAME_TRUNCATED:
    'A serial frame is shorter than its header or declared payload and was dropped.',
  EDGELOOP_ERR_FRAME_TYPE: 'A serial frame has an unknown type byte and was dropped.',
  EDGELOOP_ERR_HELLO_INVALID:
    'A HELLO frame describes an impossible sensor (unknown sample type, no axes, non-positive rate or resolution, empty range, duplicate or reserved id) and was dropped. Fix the descriptor in the firmware.',
  EDGELOOP_ERR_PROTOCOL_VERSION:
    'The device speaks a serial protocol version this agent does not support. Update the agent or the firmware.',
  EDGELOOP_ERR_UNKNOWN_SENSOR:
    'A sample frame names a sensor the HELLO did not describe. The frame was dropped.',
  EDGELOOP_ERR_NO_HELLO:
    'Samples arrived before any HELLO; they are dropped until the device describes itself.',
  EDGELOOP_ERR_CSV_LINE: 'A CSV line could not be parsed as numbers, or has the wrong number of columns.',
  EDGELOOP_ERR_SERIAL_OPEN:
    'The serial port could not be opened. Check the path, permissions and that no other process holds it.',
  EDGELOOP_ERR_SERIAL_LOST:
    'The serial port went away (unplugged or closed). The agent reconnects by itself.',
  EDGELOOP_ERR_SCENARIO_INVALID: 'The scenario file is not valid. The message names the field at fault.',
  EDGELOOP_ERR_SCENARIO_NOT_FOUND: 'No bundled scenario or file has that name. Run `edgeloop sim --list`.',
  EDGELOOP_ERR_PTY: 'A virtual serial port could not be created. Install socat (apt-get install socat).',
  EDGELOOP_ERR_DEMO_FAILED:
    "A part of edgeloop demo (the baseline training, the collector, a device's agent or simulator) failed or stopped. The message names it and where its log is.",
  EDGELOOP_ERR_INPUT_READ: 'The input file could not be read.',
  EDGELOOP_ERR_DECODE_EMPTY:
    'The input held no valid frame or CSV line. The message says what was found instead (invalid frames by code, or the protocol version the device speaks); check that the file is a capture of the serial port at the right baud rate.',
  // Feature pipeline (docs/features.md).
  EDGELOOP_ERR_FEATURE_PIPELINE_UNKNOWN:
    'The model needs a feature pipeline version this edgeloop build does not implement. Upgrade the agent or retrain the model.',
  EDGELOOP_ERR_FEATURE_PARAMS_MISMATCH:
    'The model was trained with feature parameters whose hash this build cannot reproduce. Ship the exact params with the bundle or retrain.',
  EDGELOOP_ERR_MQTT_TOPIC:
    'An MQTT topic is not an edgeloop/v1 topic this version understands. The message was ignored.',
  EDGELOOP_ERR_MQTT_DEVICE_ID:
    'A device id is not valid in an MQTT topic: use 1-64 characters from A-Z a-z 0-9 . _ : - (no +, #, / or spaces).',
  EDGELOOP_ERR_MQTT_PAYLOAD:
    'An MQTT payload does not match its schema (docs/mqtt.md). The message was dropped.',
  EDGELOOP_ERR_MQTT_DEVICE_MISMATCH:
    'An MQTT payload names a different device than its topic. The message was dropped; check the sender.',
  EDGELOOP_ERR_MQTT_TOO_LARGE:
    'An MQTT payload is larger than the collector accepts (--max-message-bytes). It was dead-lettered; check the sender.',
  EDGELOOP_ERR_MQTT_VERSION:
    'An MQTT payload carries a schema version (v) this collector does not know. It was dead-lettered; upgrade the collector.',
  EDGELOOP_ERR_BROKER_LISTEN:
    'The embedded MQTT broker could not listen on its port (in use or not permitted). Free the port, choose another (--broker-port; 0 picks a free one) or use an external broker (--mqtt).',
  // Agent MQTT link and publisher (docs/agent.md).
  EDGELOOP_ERR_MQTT_CONNECT:
    'The agent could not connect to the MQTT broker (unreachable, TLS or credentials refused). It keeps retrying with backoff; check --mqtt, TLS files and credentials.',
  EDGELOOP_ERR_MQTT_PUBLISH:
    'A publish was not acknowledged (not connected, or the connection dropped before PUBACK). The message stays in the outbox and is sent again.',
  EDGELOOP_ERR_HTTP_LISTEN:
    'An HTTP server (agent metrics/health, registry, collector) could not listen on its address (port in use, not permitted, or no such interface). Free the port or choose another (--metrics-port, --port; 0 picks a free one).',
  EDGELOOP_ERR_OUTBOX_CLOSED:
    'The outbox is closed; nothing more can be written. This is a shutdown-order bug.',
  EDGELOOP_ERR_OUTBOX_STORAGE:
    'The outbox could not write to its SQLite file (disk full, read-only or corrupt). Free disk space or check --data-dir.',
  // Model bundles (docs/model-bundle.md).
  EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID:
    'The bundle manifest is not valid JSON in canonical form or breaks the schema. The message names the field; rebuild the bundle.',
  EDGELOOP_ERR_BUNDLE_SIGNATURE:
    'The bundle signature is missing, malformed or does not match the manifest. The bundle was altered or signed wrongly; do not deploy it.',
  EDGELOOP_ERR_BUNDLE_UNTRUSTED_KEY:
    'The bundle is signed by a key that is not pinned here. Add its public key to the trusted keys only if you trust the signer.',
  EDGELOOP_ERR_BUNDLE_HASH_MISMATCH:
    'A bundle file does not match its SHA-256 in the manifest. The file was altered; re-fetch the bundle.',
  EDGELOOP_ERR_BUNDLE_MISSING_FILE: 'A file listed in the bundle manifest is missing. Re-fetch the bundle.',
  EDGELOOP_ERR_BUNDLE_EXTRA_FILE:
    'The bundle holds a file its manifest does not list. Remove it or rebuild the bundle.',
  EDGELOOP_ERR_BUNDLE_SIZE_MISMATCH:
    'A bundle file does not have the size the manifest states. Re-fetch the bundle.',
  EDGELOOP_ERR_BUNDLE_ARCHIVE_INVALID:
    'The bundle directory or tarball is malformed (bad tar header, link entry, unsafe path). Re-create it with edgeloop.',
  EDGELOOP_ERR_BUNDLE_TRAILING_DATA:
    'The tarball goes on past its end-of-archive blocks with non-zero bytes or more than 64 KiB of padding. Re-create it with edgeloop.',
  EDGELOOP_ERR_BUNDLE_TOO_LARGE:
    'The bundle exceeds the file-count or byte limit. Raise the limit only if the bundle is expected to be this big.',
  EDGELOOP_ERR_BUNDLE_WRITE:
    'The bundle could not be written: the target is not empty or the disk refused. Choose an empty directory.',
  EDGELOOP_ERR_KEY_INVALID:
    'A signing or trusted key is not a valid Ed25519 PEM key. Make keys with `edgeloop keygen`.',
  EDGELOOP_ERR_KEY_EXISTS:
    'A key file already exists at that path. Pass --force to overwrite it, or choose another --name.',
  // HTTP layer (collector/adapters/http.ts) and the model registry (collector/registry/).
  EDGELOOP_ERR_HTTP_NOT_FOUND:
    'No endpoint has that path, or nothing has that id at it (a device, alert, capture, rollout, job or label). Check the URL and the id: the agent serves /metrics and /healthz (docs/agent.md); the collector and registry serve /api/v1 (docs/collector.md, docs/registry-api.md).',
  EDGELOOP_ERR_HTTP_METHOD_NOT_ALLOWED:
    'The endpoint does not accept that method; the Allow header lists the ones it does.',
  EDGELOOP_ERR_HTTP_BODY_TOO_LARGE:
    'The request body is larger than the server accepts. Send a smaller body or raise the server limit.',
  EDGELOOP_ERR_HTTP_BAD_REQUEST:
    'The request is malformed (path encoding, JSON body or a field). The message names what.',
  EDGELOOP_ERR_HTTP_INTERNAL:
    'The server hit an internal error. The request was not applied; check the server log.',
  EDGELOOP_ERR_HTTP_TIMEOUT:
    'The request (headers or body) did not arrive within the server timeout and was cut off. Retry on a faster link, or raise the server timeout for large uploads.',
  EDGELOOP_ERR_REGISTRY_UNAUTHORIZED:
    'This request needs a registry token. Pass --token or set EDGELOOP_REGISTRY_TOKEN.',
  EDGELOOP_ERR_REGISTRY_FORBIDDEN:
    'The token is valid but may not do this (read-only token). Use a token with write access.',
  EDGELOOP_ERR_REGISTRY_NOT_FOUND:
    'No such model, version, file or alias in the registry. List what exists with `edgeloop registry list`.',
  EDGELOOP_ERR_REGISTRY_BAD_NAME:
    'A model name, version or alias is not allowed. Names are [a-z0-9._-] (at most 64, starting with a letter or digit), versions MAJOR.MINOR.PATCH, aliases staging, canary or production.',
  EDGELOOP_ERR_REGISTRY_NAME_MISMATCH:
    'The bundle manifest names another model or version than the URL it was pushed to.',
  EDGELOOP_ERR_REGISTRY_ONNX_LOAD:
    'onnxruntime-node could not load the bundle model. Check that the model file is a valid ONNX model.',
  EDGELOOP_ERR_REGISTRY_IO_MISMATCH:
    "The ONNX model's inputs or outputs (names, dtypes, shapes) do not match the manifest signature. Re-export or fix the manifest.",
  EDGELOOP_ERR_REGISTRY_LABELS_MISMATCH:
    "The number of labels differs from the model's probability columns. Give one label per column, in column order (--labels).",
  EDGELOOP_ERR_REGISTRY_FEATURES_MISMATCH:
    "The dataset's header is not the feature pipeline's feature names in order. The message names the first wrong column; export the dataset with `edgeloop features`.",
  EDGELOOP_ERR_REGISTRY_GOLDEN_MISMATCH:
    'Running the model on the golden inputs did not reproduce the golden outputs within tolerance. Regenerate the golden file from this model.',
  EDGELOOP_ERR_REGISTRY_VERSION_EXISTS:
    'That version already exists with different bytes; versions are immutable. Push under a new version.',
  EDGELOOP_ERR_REGISTRY_ALIAS_CONFLICT:
    'The alias no longer points where expectedVersion said (someone moved it). Re-read the alias and retry.',
  EDGELOOP_ERR_REGISTRY_GATE_FAILED:
    "The version does not meet the model's promotion policy for production. The reasons list what failed.",
  EDGELOOP_ERR_REGISTRY_RANGE:
    'The requested byte range is outside the file. Ask for a range within Content-Length.',
  EDGELOOP_ERR_REGISTRY_STORAGE:
    'The registry could not write to its data directory (disk full or permissions). Free space and retry.',
  EDGELOOP_ERR_REGISTRY_UNREACHABLE:
    'The registry did not answer. Check --url and that `edgeloop registry serve` is running.',
  EDGELOOP_ERR_ONNX_LOAD:
    'onnxruntime could not load the ONNX model. Check that the file is a valid ONNX model (IR <= 10, opset <= 21).',
  EDGELOOP_ERR_ONNX_RUN:
    'onnxruntime failed to run the model. Check input names, dtypes and shapes against the model signature.',
  EDGELOOP_ERR_TRAINING_DATA:
    'The training data is unusable (empty, ragged feature rows, non-finite values or fewer than two classes). Regenerate the dataset.',
  EDGELOOP_ERR_TRAINING_SPLIT:
    'The grouped split or the validation folds left a partition empty. Use more groups (devices x minutes), or change testFraction or folds.',
  // Agent model manager (docs/agent-models.md).
  EDGELOOP_ERR_MODEL_DOWNGRADE:
    'The model command has a deploySeq not greater than the last one this agent applied (a replay or a downgrade). It was refused; the current model keeps serving.',
  EDGELOOP_ERR_MODEL_DOWNLOAD:
    'The bundle download failed for good (the registry answered 4xx, or the body was larger than allowed or shorter than announced). Check the command url.',
  EDGELOOP_ERR_MODEL_DIGEST_MISMATCH:
    'The downloaded bundle matches neither the command digest as archive SHA-256 nor as manifest digest. It was discarded; check the rollout command.',
  EDGELOOP_ERR_MODEL_NAME_MISMATCH:
    'The downloaded bundle names another model or version than the command. It was discarded; check the rollout command.',
  // Explanations (docs/explanations.md).
  EDGELOOP_ERR_EXPLAIN_INPUT:
    "The window, feature vector or alert cannot be explained: it is not stored, its features are not the model's, or the model has more sensor groups than an exact explanation takes. The message says which.",
  EDGELOOP_ERR_EXPLAIN_UNAVAILABLE:
    "No explanation can be computed here: the model behind the window is not in this collector's registry, or its bundle has no reference profile. Push the bundle to the registry (edgeloop registry push).",
  EDGELOOP_ERR_MODEL_IO_MISMATCH:
    "The model's inputs or outputs do not match its manifest, or its input width does not match the feature vector. Re-export the model or fix the manifest.",
  EDGELOOP_ERR_MODEL_FEATURES_MISMATCH:
    "The device's sensors give other features than the model was trained on. Deploy a model trained for this board.",
  EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH:
    'On this device the model did not reproduce its golden outputs within tolerance. It was not activated; the current model keeps serving.',
  EDGELOOP_ERR_MODEL_HEALTH_ERRORS:
    'The new model failed too many inferences during its health window and was rolled back to the last known good model.',
  EDGELOOP_ERR_MODEL_HEALTH_LATENCY:
    'The new model was much slower than the model it replaced during its health window and was rolled back to the last known good model.',
  EDGELOOP_ERR_MODEL_STORE:
    'The model store under <data-dir>/models could not be read or written (disk full, permissions, corrupt active.json). Check --data-dir.',
  EDGELOOP_ERR_MODEL_ACTIVE_INVALID:
    'The stored active model failed verification at start (altered on disk or its key is no longer pinned); the agent fell back to the last known good model or to none.',
  EDGELOOP_ERR_MODEL_SUPERSEDED:
    'A newer model command arrived before this one started; only the newest is applied.',
  EDGELOOP_ERR_MODEL_URL_REFUSED:
    'A model install command names a bundle URL outside the registry this agent is configured with (--registry). It was refused; check the rollout command or --registry.',
  EDGELOOP_ERR_MODEL_NO_ROLLBACK_TARGET:
    'A rollback was requested but there is no last known good model other than the one serving. Nothing changed.',
  EDGELOOP_ERR_MODEL_CLOSED:
    'The model manager is closed; the command was not applied. This is a shutdown-order bug.',
  // Offline drift analysis (docs/drift.md).
  EDGELOOP_ERR_DRIFT_CSV:
    'A drift input CSV is malformed: a cell is not a number, a row has the wrong number of cells, or a header name repeats. The message names the file, line and column; fix the file.',
  EDGELOOP_ERR_DRIFT_CSV_EMPTY:
    'A drift input CSV has no header row or no data rows. Give a CSV with a header of column names and at least one row.',
  EDGELOOP_ERR_DRIFT_COLUMN_MISSING:
    'A column to compare is not in the reference or current input (--columns, or a current column the reference lacks). Check the header names; they are case-sensitive.',
  // Retraining on captured data (issue 10, docs/retraining.md).
  EDGELOOP_ERR_TRAINING_JOB_INVALID:
    'The training job request is unusable: unknown model or version, no production model to improve, an empty or inverted time range, no devices, or a version that already exists. Fix the field named in the message.',
  EDGELOOP_ERR_TRAINING_JOB_STATE:
    'The training job has already ended (succeeded, refused, failed or cancelled); it cannot be cancelled. List jobs with GET /api/v1/training-jobs.',
  EDGELOOP_ERR_TRAINING_WORKER_CRASHED:
    'The training child process exited or was killed before it reported a result. The job failed; check the collector log for the child output, then open a new job.',
  EDGELOOP_ERR_TRAINING_CANCELLED:
    'The training job was cancelled by an operator; its child process was stopped.',
  EDGELOOP_ERR_TRAINING_INTERRUPTED:
    'The collector stopped (or restarted) while the training job ran; the job was ended. Open a new job.',
  EDGELOOP_ERR_TRAINING_NO_RECENT_DATA:
    'No captured window of the job carries a label (operator labels over the range, GET /api/v1/labels), so there is no recent data to test the candidate on. Record what the machines were doing with POST /api/v1/labels and retrain.',
  EDGELOOP_ERR_TRAINING_GATE_REFUSED:
    'The retrained candidate did not beat the production model on the same test rows (recent captured data included). It was registered but not staged; the reasons are in the job.',
  EDGELOOP_ERR_TRAINING_COLLECTOR_UNREACHABLE:
    'edgeloop train --collector could not read windows or labels from the collector (refused connection, HTTP error, or a reply that is not the collector API). Check --collector, --token and that the devices exist.',
  EDGELOOP_ERR_LABEL_INVALID:
    'An operator label is unusable: unknown state, bad device id, or from not before to. Fix the field named in the message.',
  // Collector storage (docs/storage.md).
  EDGELOOP_ERR_STORE_SCHEMA_NEWER:
    'The collector database was written by a newer edgeloop (its schema version is higher than this build knows). Upgrade edgeloop, or point the collector at another database file.',
  EDGELOOP_ERR_STORE_OPEN:
    'The collector database could not be opened or migrated (missing directory, permissions, disk full or a corrupt file). Check the path in the message.',
  // Model-update requests (docs/update-requests.md).
  EDGELOOP_ERR_UPDATE_NOT_FOUND:
    'No model-update request has that id. List them with GET /api/v1/update-requests.',
  EDGELOOP_ERR_UPDATE_STATE:
    'The model-update request is not in a state that allows this (an ended request cannot be dismissed; only a proposed rollout can be approved). Check its state with GET /api/v1/update-requests/<id>.',
  EDGELOOP_ERR_UPDATE_CANNOT_ACT:
    'The model-update request cannot act: the collector has no registry, rollout controller or retraining service configured for it, or starting one failed. The request names the reason; fix the configuration, then dismiss it.',
  // Rollouts (docs/rollouts.md).
  EDGELOOP_ERR_ROLLOUT_INVALID_PLAN:
    'The rollout plan is unusable: unknown model or version, a percentage outside (0, 100], a last phase that is not 100 %, a negative bake or timeout, or an unknown analysis option. Fix the field named in the message.',
  EDGELOOP_ERR_ROLLOUT_NO_DEVICES:
    'The rollout has no device to update: no known device reports the model, and the plan names none. Name the devices, or wait until they report.',
  EDGELOOP_ERR_ROLLOUT_NOT_FOUND:
    'No rollout has that id. List them with GET /api/v1/rollouts or `edgeloop rollout status`.',
  EDGELOOP_ERR_ROLLOUT_STATE:
    'The rollout is not in a state that allows this (only a running rollout pauses, only a paused one resumes, an ended one cannot be aborted). Check its state with `edgeloop rollout status <id>`.',
  EDGELOOP_ERR_ROLLOUT_CONFLICT:
    'Another rollout of this model, or of some of these devices, is still running, paused or rolling back. Wait for it to end or abort it first.',
  EDGELOOP_ERR_ROLLOUT_UNREACHABLE:
    'The collector did not answer (not running, wrong --url, or a network problem). Check --url and that `edgeloop collector` is running.',
} as const;

export type ErrorCode = keyof typeof errorCatalogue;

/** An expected failure as a value (STYLE.md habit 6). */
export interface Failure {
  readonly ok: false;
  readonly code: ErrorCode;
  readonly message: string;
}

export type Result<T> = { readonly ok: true; readonly value: T } | Failure;

export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

/**
 * The detail, then the catalogue's hint for the code. A detail that already ends with the hint (a Failure's
 * message passed on to EdgeloopError) keeps one copy, and one that ends a sentence gets no second full stop.
 */
export function withHint(code: ErrorCode, detail?: string): string {
  const base = errorCatalogue[code];
  if (detail === undefined) return base;
  if (detail.endsWith(base)) return detail;
  return `${detail}${/[.?!]$/.test(detail) ? '' : '.'} ${base}`;
}

export function fail(code: ErrorCode, detail?: string): Failure {
  return { ok: false, code, message: withHint(code, detail) };
}

/** Thrown for bad config and bugs only; carries a stable code for the CLI to print. */
export class EdgeloopError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, detail?: string, options?: ErrorOptions) {
    super(withHint(code, detail), options);
    this.code = code;
    this.name = 'EdgeloopError';
  }
}
