// A standalone registry process (`edgeloop registry serve`): the registry's routes on an HTTP app of their
// own. The collector instead registers `registryRoutes` on its own app, next to its API and dashboard.

import { loadOnnxSession, type OnnxSessionLoader } from '../../shared/platform/onnx.ts';
import { createHttpApp, listenHttp, type HttpApp, type HttpTimeouts } from '../adapters/http.ts';
import { createRegistryAuth, type ReadAuth, type RegistryToken } from './auth.ts';
import { openRegistry, type Registry } from './registry.ts';
import { registryRoutes } from './routes.ts';

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
  /** Overrides of the server timeouts (HTTP_TIMEOUTS in collector/adapters/http.ts). */
  readonly timeouts?: Partial<HttpTimeouts>;
  /** Override the ONNX loader (tests); default the onnxruntime-node adapter. */
  readonly loadModel?: OnnxSessionLoader;
  readonly now?: () => Date;
  /** Told about handler exceptions (bugs). Default: written to stderr. */
  readonly onError?: (err: unknown) => void;
}

export interface RegistryApp {
  readonly app: HttpApp;
  readonly registry: Registry;
  /** Idempotent: closes the app (and its server, if listening), then the database. */
  close(): Promise<void>;
}

export interface RegistryServer extends RegistryApp {
  readonly url: string;
  readonly port: number;
}

/** The registry on an app that is ready but not listening: for `app.inject()` tests, or to listen. */
export async function createRegistryApp(
  options: Omit<RegistryServerOptions, 'port' | 'host'>,
): Promise<RegistryApp> {
  const maxBundleBytes = options.maxBundleBytes ?? 256 * 1024 * 1024;
  const registry = openRegistry({
    dataDir: options.dataDir,
    trustedKeys: options.trustedKeys,
    maxBundleBytes,
    loadModel: options.loadModel ?? ((bytes) => loadOnnxSession(bytes)),
    ...(options.now ? { now: options.now } : {}),
  });
  const onError =
    options.onError ??
    ((err: unknown) => {
      process.stderr.write(
        `registry: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    });
  let closing: Promise<void> | undefined;
  const app = createHttpApp({ onError, ...(options.timeouts ? { timeouts: options.timeouts } : {}) });
  const close = (): Promise<void> => {
    closing ??= app.close().then(() => {
      registry.close();
    });
    return closing;
  };
  try {
    await app.register(registryRoutes, {
      prefix: '/api/v1',
      registry,
      auth: createRegistryAuth(options.tokens, options.readAuth ?? 'open'),
      maxBundleBytes,
    });
    await app.ready();
  } catch (err) {
    await close();
    throw err;
  }
  return { app, registry, close };
}

/** The registry listening on host:port. A busy port throws EdgeloopError EDGELOOP_ERR_HTTP_LISTEN. */
export async function createRegistryServer(options: RegistryServerOptions): Promise<RegistryServer> {
  const built = await createRegistryApp(options);
  let http;
  try {
    http = await listenHttp(built.app, {
      port: options.port ?? 0,
      ...(options.host ? { host: options.host } : {}),
    });
  } catch (err) {
    await built.close();
    throw err;
  }
  return { ...built, url: http.url, port: http.port };
}
