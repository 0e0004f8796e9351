// The configuration of `edgeloop registry serve`: one defaults object, one zod schema, validated at start
// and frozen (STYLE.md habit 8), through the shared loader. Sources, later wins: defaults < config file
// (--config, JSON, camelCase keys) < EDGELOOP_* variables (EDGELOOP_DATA_DIR, EDGELOOP_TRUSTED_KEYS as a
// comma list, ...) < flags (kebab-case; the repeatable --trusted-key fills trustedKeys).

import { z } from 'zod';
import { intOption, listOption } from '../../shared/config.ts';
import { configInvalid, loadConfig } from '../../shared/platform/config.ts';
import { HTTP_TIMEOUTS } from '../adapters/http.ts';

export const registryServeDefaults = {
  /** SQLite metadata (registry.sqlite) and the blob store (blobs/). Required. */
  dataDir: '',
  /** Public key files (PEM) whose signatures pushes must carry. At least one. */
  trustedKeys: [] as readonly string[],
  /** JSON tokens file [{"token", "actor", "write"}] ('' = EDGELOOP_REGISTRY_TOKEN as one write token). */
  tokensFile: '',
  /** open: reads need no token; token: reads need any valid token. */
  readAuth: 'open' as 'open' | 'token',
  /** TCP port; 0 picks a free one. */
  port: 8470,
  /** Interface to bind; 0.0.0.0 serves every interface. */
  host: '127.0.0.1',
  /** Largest push accepted, MiB. */
  maxBundleMb: 256,
  /** Server timeouts, ms (why these defaults: HTTP_TIMEOUTS in collector/adapters/http.ts). */
  requestTimeoutMs: HTTP_TIMEOUTS.requestTimeoutMs as number,
  headersTimeoutMs: HTTP_TIMEOUTS.headersTimeoutMs as number,
  connectionTimeoutMs: HTTP_TIMEOUTS.connectionTimeoutMs as number,
  keepAliveTimeoutMs: HTTP_TIMEOUTS.keepAliveTimeoutMs as number,
};

export type RegistryServeConfig = Readonly<typeof registryServeDefaults>;

const hour = 3600_000;

const schema = z
  .object({
    dataDir: z
      .string()
      .min(1, 'is required: where the registry keeps its data, e.g. --data-dir /var/lib/edgeloop/registry'),
    trustedKeys: listOption.pipe(
      z
        .array(z.string())
        .min(1, 'at least one pinned public key is required, e.g. --trusted-key release.pub'),
    ),
    tokensFile: z.string(),
    readAuth: z.enum(['open', 'token']),
    port: intOption(0, 65_535),
    host: z.string().min(1),
    maxBundleMb: z.coerce
      .number()
      .positive()
      .max(64 * 1024),
    requestTimeoutMs: intOption(1000, 24 * hour),
    headersTimeoutMs: intOption(1000, hour),
    connectionTimeoutMs: intOption(1000, 24 * hour),
    keepAliveTimeoutMs: intOption(100, hour),
  })
  .strict();

/** Node refuses a headers timeout longer than the request timeout; say so in our words. */
function crossCheck(c: z.infer<typeof schema>): void {
  if (c.headersTimeoutMs > c.requestTimeoutMs)
    throw configInvalid(
      `headersTimeoutMs: ${c.headersTimeoutMs} is longer than requestTimeoutMs ${c.requestTimeoutMs} (the whole request)`,
    );
}

/**
 * Merges flags, EDGELOOP_* variables and the JSON config file over the defaults, validates and freezes.
 * Throws EdgeloopError (EDGELOOP_ERR_CONFIG_INVALID / _UNKNOWN_OPTION) naming the option at fault.
 */
export function loadRegistryServeConfig(
  flags: Record<string, unknown>,
  env: Record<string, string | undefined>,
  configFile?: string,
): RegistryServeConfig {
  return loadConfig({
    command: 'registry-serve',
    defaults: registryServeDefaults,
    schema,
    flags,
    env,
    configFile,
    crossCheck,
  });
}
