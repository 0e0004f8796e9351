// A standalone registry process (`edgeloop registry serve`): the registry on its own router and HTTP
// server. The collector instead calls openRegistry + registerRegistryRoutes on its own router.

import { loadOnnxModel } from '../adapters/onnxruntime.ts';
import { createRouter, startHttpServer, type HttpRouter } from '../adapters/http.ts';
import { createRegistryAuth, type ReadAuth, type RegistryToken } from './auth.ts';
import type { ModelLoader } from './push-check.ts';
import { openRegistry, type Registry } from './registry.ts';
import { registerRegistryRoutes } from './routes.ts';

export interface RegistryServerOptions {
  /** Directory for registry.sqlite and blobs/. */
  readonly dataDir: string;
  /** Bearer tokens; writes need one with write access. */
  readonly tokens: readonly RegistryToken[];
  /** 'open' (default): reads need no token. 'token': reads need any valid token. */
  readonly readAuth?: ReadAuth;
  /** Pinned Ed25519 public keys (PEM) that pushed bundles must be signed with. */
  readonly trustedKeys: readonly string[];
  /** TCP port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Interface to bind. Default 127.0.0.1. */
  readonly host?: string;
  /** Largest bundle accepted, bytes. Default 256 MiB. */
  readonly maxBundleBytes?: number;
  /** Override the ONNX loader (tests); default the onnxruntime-node adapter. */
  readonly loadModel?: ModelLoader;
  readonly now?: () => Date;
  /** Told about handler exceptions (bugs). Default: written to stderr. */
  readonly onError?: (err: unknown) => void;
}

export interface RegistryServer {
  readonly url: string;
  readonly port: number;
  readonly registry: Registry;
  readonly router: HttpRouter;
  /** Idempotent: stops the HTTP server, then closes the database. */
  close(): Promise<void>;
}

export async function createRegistryServer(options: RegistryServerOptions): Promise<RegistryServer> {
  const maxBundleBytes = options.maxBundleBytes ?? 256 * 1024 * 1024;
  const registry = openRegistry({
    dataDir: options.dataDir,
    trustedKeys: options.trustedKeys,
    maxBundleBytes,
    loadModel: options.loadModel ?? ((bytes) => loadOnnxModel(bytes)),
    ...(options.now ? { now: options.now } : {}),
  });
  const onError =
    options.onError ??
    ((err: unknown) => {
      process.stderr.write(
        `registry: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    });
  const router = createRouter({ onError });
  registerRegistryRoutes(router, registry, createRegistryAuth(options.tokens, options.readAuth ?? 'open'), {
    maxBundleBytes,
  });
  let server;
  try {
    server = await startHttpServer(router, {
      port: options.port ?? 0,
      ...(options.host ? { host: options.host } : {}),
    });
  } catch (err) {
    registry.close();
    throw err;
  }
  const http = server;
  let closing: Promise<void> | undefined;
  return {
    url: http.url,
    port: http.port,
    registry,
    router,
    close() {
      closing ??= http.close().then(() => {
        registry.close();
      });
      return closing;
    },
  };
}
