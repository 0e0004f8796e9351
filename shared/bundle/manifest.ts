// The model bundle manifest (docs/model-bundle.md, issue #3 section 5): the signed contract between
// training, the registry and the agent. Every object is strict: an unknown key is an error, so a field
// that some reader would silently ignore can never ride along under a valid signature. New fields mean
// a new schemaVersion. No zod defaults either: what was signed is exactly what is read back.

import { z } from 'zod';
import { fail, ok, type Result } from '../errors.ts';

export const BUNDLE_SCHEMA_VERSION = 1;
/** Reserved names at the bundle root; they are never listed in `files`. */
export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_FILE = 'manifest.sig';
/** ustar's name field holds 100 bytes; keeping paths within it keeps the tar codec simple and portable. */
export const MAX_BUNDLE_PATH_LENGTH = 100;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits (SHA-256)');
const finite = z.number(); // zod 4 rejects NaN and ±Infinity already
const nonNegInt = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const isoTime = z.iso.datetime({ offset: true });

/**
 * A bundle-relative POSIX path: no absolute path, no `..` or `.` segment, no empty segment, no backslash,
 * a conservative character set, and not one of the reserved root names. Returns the reason or undefined.
 */
export function bundlePathProblem(path: string): string | undefined {
  if (path.length === 0) return 'empty path';
  if (path.length > MAX_BUNDLE_PATH_LENGTH) return `longer than ${MAX_BUNDLE_PATH_LENGTH} characters`;
  if (path.startsWith('/')) return 'absolute path';
  if (path.includes('\\')) return 'backslash in path (use /)';
  if (!/^[A-Za-z0-9._\-/]+$/.test(path)) return 'characters outside [A-Za-z0-9._-/]';
  for (const seg of path.split('/')) {
    if (seg === '') return 'empty path segment';
    if (seg === '.' || seg === '..') return `"${seg}" segment`;
  }
  if (path === MANIFEST_FILE || path === SIGNATURE_FILE) return 'reserved name';
  return undefined;
}

const bundlePath = z.string().superRefine((p, ctx) => {
  const why = bundlePathProblem(p);
  if (why !== undefined) ctx.addIssue({ code: 'custom', message: `unsafe bundle path "${p}": ${why}` });
});

export const fileRoles = ['model', 'scaler', 'reference', 'golden', 'report', 'other'] as const;
export const fileRoleSchema = z.enum(fileRoles);
export type FileRole = z.infer<typeof fileRoleSchema>;

export const bundleFileSchema = z.strictObject({
  path: bundlePath,
  role: fileRoleSchema,
  sha256: sha256Hex,
  size: nonNegInt,
});
export type BundleFile = z.infer<typeof bundleFileSchema>;

/** ONNX tensor element types we name (onnx.proto TensorProto.DataType, lower-cased). */
export const tensorDtypes = [
  'float32',
  'float64',
  'float16',
  'int64',
  'int32',
  'int16',
  'int8',
  'uint8',
  'bool',
  'string',
] as const;
export const tensorSpecSchema = z.strictObject({
  name: z.string().min(1),
  dtype: z.enum(tensorDtypes),
  /** A number is a fixed dimension; a string names a dynamic one (e.g. "batch"). */
  shape: z.array(z.union([nonNegInt, z.string().min(1)])),
});
export type TensorSpec = z.infer<typeof tensorSpecSchema>;

export const ioSignatureSchema = z.strictObject({
  inputs: z.array(tensorSpecSchema).min(1),
  outputs: z.array(tensorSpecSchema).min(1),
});
export type IoSignature = z.infer<typeof ioSignatureSchema>;

export const pipelineRefSchema = z.strictObject({
  id: z.string().min(1),
  paramsHash: z.string().regex(/^[0-9a-f]{8,128}$/, 'expected lowercase hex'),
});
export type PipelineRef = z.infer<typeof pipelineRefSchema>;

/** Metrics are an open tree of finite numbers: `macroF1: 0.97`, `perClass: { normal: { recall: 1 } }`. */
export type MetricValue = number | MetricValue[] | { [key: string]: MetricValue };
export const metricValueSchema: z.ZodType<MetricValue> = z.lazy(() =>
  z.union([finite, z.array(metricValueSchema), z.record(z.string(), metricValueSchema)]),
);
export const metricsSchema = z.record(z.string(), metricValueSchema);
export type Metrics = z.infer<typeof metricsSchema>;

/**
 * The drift reference profile lives in its own file (role `reference`, see ./reference.ts): a few
 * thousand sample points per feature would make the manifest megabytes, and the manifest is parsed by
 * every agent and stored in the registry's SQLite. The file's digest is in `files`; here is a summary.
 */
export const referenceSummarySchema = z.strictObject({
  path: bundlePath,
  rows: nonNegInt,
  features: z.array(z.string().min(1)).min(1),
  bins: z.number().int().min(1),
  /** The drift methods whose reference chunk-score distributions the file holds. */
  chunkMethods: z.array(z.string().min(1)),
});
export type ReferenceSummary = z.infer<typeof referenceSummarySchema>;

export const toleranceSchema = z.strictObject({
  absolute: z.number().nonnegative(),
  relative: z.number().nonnegative(),
});
export type Tolerance = z.infer<typeof toleranceSchema>;

/** Golden I/O: cases either in a file (role `golden`, see ./golden.ts) or inline when small. */
export const goldenRefSchema = z.strictObject({
  path: bundlePath.optional(),
  inline: z.json().optional(),
  cases: z.number().int().min(1),
  tolerance: toleranceSchema,
});
export type GoldenRef = z.infer<typeof goldenRefSchema>;

const jsonRecord = z.record(z.string(), z.json());

export const datasetRefSchema = z.strictObject({
  name: z.string().min(1),
  /** SHA-256 of the partition's canonical rows (issue #3 section 2). */
  digest: sha256Hex,
  rows: nonNegInt,
  splitSeed: z.number().int().nullable(),
  partition: z.string().min(1),
});
export type DatasetRef = z.infer<typeof datasetRefSchema>;

export const trialSchema = z.strictObject({
  index: nonNegInt,
  params: jsonRecord,
  score: finite,
  metrics: metricsSchema.optional(),
  durationMs: z.number().nonnegative().optional(),
});
export type Trial = z.infer<typeof trialSchema>;

export const lineageSchema = z.strictObject({
  /** `trained` by edgeloop train, or `imported` (bring your own model: registry push --onnx). */
  origin: z.enum(['trained', 'imported']),
  datasets: z.array(datasetRefSchema),
  code: z.strictObject({ commit: z.string().min(1).nullable(), dirty: z.boolean().nullable() }),
  hyperparameters: jsonRecord,
  /** Every search trial, in the order run. Empty for imported models. */
  trials: z.array(trialSchema),
  search: z.strictObject({ method: z.string().min(1), seed: z.number().int(), budget: nonNegInt }).optional(),
  startedAt: isoTime,
  endedAt: isoTime,
  /** Library name -> version (zod, onnx-proto, onnxruntime-node, torch, skl2onnx, ...). */
  libraries: z.record(z.string(), z.string()),
  // Issue 10 (docs/retraining.md): how the lab data was generated, so a retraining job can regenerate it
  // ({seed, devicesPerState, secondsPerDevice, windowMs, states}), and, for a retrained model, the update
  // request, the captured data's time ranges and digests, and the label sources with their row counts.
  labData: jsonRecord.optional(),
  retraining: jsonRecord.optional(),
});
export type Lineage = z.infer<typeof lineageSchema>;

export const onnxInfoSchema = z.strictObject({
  /** Default-domain (ai.onnx) opset version. */
  opset: z.number().int().min(1),
  irVersion: z.number().int().min(1),
  /** Every opset import, domain -> version, e.g. { "": 17, "ai.onnx.ml": 3 }. */
  opsetImports: z.record(z.string(), z.number().int().min(1)).optional(),
  producer: z.string().optional(),
});
export type OnnxInfo = z.infer<typeof onnxInfoSchema>;

const manifestObject = z.strictObject({
  schemaVersion: z.literal(BUNDLE_SCHEMA_VERSION),
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lowercase letters, digits, . _ -, at most 64'),
  /** semver-ish: MAJOR.MINOR.PATCH with an optional -pre or +build tail. */
  version: z
    .string()
    .regex(/^\d{1,9}\.\d{1,9}\.\d{1,9}(?:[-+][0-9A-Za-z.+-]{1,64})?$/, 'expected MAJOR.MINOR.PATCH'),
  createdAt: isoTime,
  description: z.string().max(2000).optional(),
  files: z.array(bundleFileSchema).min(1),
  /** The model's input/output signature (named `io`, not `signature`, to keep it apart from manifest.sig). */
  io: ioSignatureSchema,
  pipeline: pipelineRefSchema,
  labels: z.array(z.string().min(1)).min(1),
  reference: referenceSummarySchema,
  metrics: metricsSchema,
  golden: goldenRefSchema,
  lineage: lineageSchema,
  onnx: onnxInfoSchema,
});

function fileWithRole(m: z.infer<typeof manifestObject>, path: string, role: FileRole): string | undefined {
  const f = m.files.find((x) => x.path === path);
  if (f === undefined) return `"${path}" is not listed in files`;
  if (f.role !== role) return `"${path}" has role ${f.role}, expected ${role}`;
  return undefined;
}

export const manifestSchema = manifestObject.superRefine((m, ctx) => {
  const seen = new Set<string>();
  for (const f of m.files) {
    if (seen.has(f.path))
      ctx.addIssue({ code: 'custom', path: ['files'], message: `duplicate path "${f.path}"` });
    seen.add(f.path);
  }
  // "a" and "a/b" cannot both exist on disk or in a tarball.
  for (const p of seen) {
    const segs = p.split('/');
    for (let i = 1; i < segs.length; i++) {
      const dir = segs.slice(0, i).join('/');
      if (seen.has(dir))
        ctx.addIssue({ code: 'custom', path: ['files'], message: `"${dir}" is both a file and a directory` });
    }
  }
  const models = m.files.filter((f) => f.role === 'model');
  if (models.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      path: ['files'],
      message: `exactly one file must have role model (found ${models.length})`,
    });
  }
  if (new Set(m.labels).size !== m.labels.length)
    ctx.addIssue({ code: 'custom', path: ['labels'], message: 'duplicate label' });
  const refWhy = fileWithRole(m, m.reference.path, 'reference');
  if (refWhy !== undefined) ctx.addIssue({ code: 'custom', path: ['reference', 'path'], message: refWhy });
  if ((m.golden.path === undefined) === (m.golden.inline === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['golden'],
      message: 'exactly one of golden.path and golden.inline is required',
    });
  } else if (m.golden.path !== undefined) {
    const why = fileWithRole(m, m.golden.path, 'golden');
    if (why !== undefined) ctx.addIssue({ code: 'custom', path: ['golden', 'path'], message: why });
  }
});

export type Manifest = z.infer<typeof manifestSchema>;

/** The one file with role `model` (the schema guarantees exactly one). */
export function modelFile(manifest: Manifest): BundleFile {
  const f = manifest.files.find((x) => x.role === 'model');
  if (f === undefined) throw new Error('manifest has no model file; it was not validated by manifestSchema');
  return f;
}

/** Formats zod issues as one line per issue, `path: message`. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((i) => `${i.path.length === 0 ? '(root)' : i.path.join('.')}: ${i.message}`)
    .join('; ');
}

/** Validates an already JSON-parsed value as a manifest. */
export function parseManifest(value: unknown): Result<Manifest> {
  const r = manifestSchema.safeParse(value);
  if (!r.success)
    return fail('EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID', `manifest invalid: ${formatIssues(r.error)}`);
  return ok(r.data);
}
