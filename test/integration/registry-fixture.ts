// Builds small, real, signed model bundles for the registry tests with the shared ONNX fixture
// (test/helpers/onnx-fixture.ts): a 3-feature softmax-regression graph, golden outputs produced by running
// it in onnxruntime-node, a real reference profile, knobs to break each check on purpose, and a registry
// server harness.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SignedBundle } from '../../shared/bundle/build.ts';
import type { IoSignature } from '../../shared/bundle/manifest.ts';
import { generateSigningKeyPair, type SigningKeyPair } from '../../shared/bundle/signing.ts';
import { encodeBundleArchive } from '../../shared/platform/tar.ts';
import { createRegistryServer, type RegistryServer } from '../../collector/registry/server.ts';
import { signGoldenBundle, sineReference, softmaxIo, softmaxOnnx } from '../helpers/onnx-fixture.ts';

export const FEATURES = 3;
export const CLASSES = ['normal', 'imbalance'] as const;

/** features[N,3] -MatMul(W)-Add(b)-Softmax-> probabilities[N,2]; ArgMax -> label[N] (int64). */
export function tinyOnnx(
  weights: readonly number[] = [0.5, -1, 0.25, 1, 0.75, -0.5],
  bias: readonly number[] = [0.1, -0.1],
): Uint8Array {
  return softmaxOnnx({ features: FEATURES, classes: 2, weights, bias, producerName: 'registry-test' });
}

export const tinyIo: IoSignature = softmaxIo(FEATURES, CLASSES.length);

export interface BundleOptions {
  readonly name?: string;
  readonly version?: string;
  readonly macroF1?: number;
  readonly io?: IoSignature;
  /** Replace the model bytes after golden outputs were computed from the real model. */
  readonly modelBytes?: Uint8Array;
  /** Shift every golden probability by this much (breaks reproduction). */
  readonly goldenShift?: number;
  readonly description?: string;
}

const ref = sineReference(
  Array.from({ length: FEATURES }, (_, j) => `f${j}`),
  200,
);

export function makeBundle(key: SigningKeyPair, options: BundleOptions = {}): Promise<SignedBundle> {
  const real = tinyOnnx();
  return signGoldenBundle(key, {
    name: options.name ?? 'pump-condition',
    version: options.version ?? '1.0.0',
    model: options.modelBytes ?? real,
    goldenModel: real,
    goldenRows: [
      [0.1, 0.2, 0.3],
      [1, -1, 0.5],
      [-2, 0.5, 3],
    ],
    ...(options.goldenShift === undefined ? {} : { goldenShift: options.goldenShift }),
    io: options.io ?? tinyIo,
    labels: CLASSES,
    reference: ref,
    pipeline: { id: 'edgeloop.features.v1', paramsHash: 'ab12cd34ef56ab12' },
    extraFiles: new Map([
      ['report.md', new TextEncoder().encode('# Test report\n\nmacro-F1 as in the manifest.\n')],
    ]),
    ...(options.macroF1 === undefined ? {} : { macroF1: options.macroF1 }),
    ...(options.description === undefined ? {} : { description: options.description }),
  });
}

export function archiveOf(b: SignedBundle, gzip = false): Uint8Array {
  return encodeBundleArchive(b.contents, { gzip });
}

export const WRITE_TOKEN = 'write-token-0123456789abcdef';
export const READ_TOKEN = 'read-token-0123456789abcdef';

export interface Harness {
  readonly server: RegistryServer;
  readonly key: SigningKeyPair;
  readonly dir: string;
  /** Handler exceptions (500s); a test asserts it stays empty. */
  readonly internalErrors: unknown[];
  /** fetch against the server with the write token unless headers say otherwise. */
  call(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
}

export async function startHarness(
  t: { after(fn: () => unknown): void },
  options: { readAuth?: 'open' | 'token'; maxBundleBytes?: number } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-registry-'));
  const key = generateSigningKeyPair();
  const internalErrors: unknown[] = [];
  const server = await createRegistryServer({
    dataDir: dir,
    tokens: [
      { token: WRITE_TOKEN, actor: 'ci-bot' },
      { token: READ_TOKEN, actor: 'dashboard', write: false },
    ],
    readAuth: options.readAuth ?? 'open',
    trustedKeys: [key.publicKeyPem],
    ...(options.maxBundleBytes === undefined ? {} : { maxBundleBytes: options.maxBundleBytes }),
    onError: (err) => {
      internalErrors.push(err);
    },
  });
  t.after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    server,
    key,
    dir,
    internalErrors,
    call(path, init = {}) {
      const { token, ...rest } = init;
      const headers = new Headers(rest.headers);
      const tok = token === undefined ? WRITE_TOKEN : token;
      if (tok !== null) headers.set('authorization', `Bearer ${tok}`);
      return fetch(`${server.url}${path}`, { ...rest, headers });
    },
  };
}

export async function push(
  h: Harness,
  bytes: Uint8Array,
  model = 'pump-condition',
  token?: string | null,
): Promise<Response> {
  return h.call(`/api/v1/models/${model}/versions`, {
    method: 'POST',
    body: bytes,
    headers: { 'content-type': 'application/x-tar' },
    ...(token === undefined ? {} : { token }),
  });
}

export async function errorCode(res: Response): Promise<string> {
  const body = (await res.json()) as { error?: { code?: string } };
  return body.error?.code ?? `(no error code, status ${res.status})`;
}
