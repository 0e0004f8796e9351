// HTTP client side of `edgeloop registry` (docs/registry-api.md): the bearer-token client, refusals carrying
// the server's EDGELOOP_ERR_* code, and the small helpers every subcommand shares.
import { z } from 'zod';
import { registryServeDefaults } from '../collector/index.ts';
import { boolOption, listOption } from '../shared/config.ts';
import { EdgeloopError, errorCatalogue, type ErrorCode } from '../shared/errors.ts';
import { loadConfig } from '../shared/platform/config.ts';
import type { CliIO } from './commands.ts';
import { isErrorCode } from './errors.ts';
import { nameOptionSource, optionSource } from './options.ts';

export const DEFAULT_REGISTRY_URL = 'http://127.0.0.1:8470';

/** Parsed `edgeloop registry` options (parseCliArgs values). */
export type Values = Record<string, string | boolean | string[] | undefined>;

/** A refusal from the server or a local check: printed with its code, exit 1. */
export class Refused extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly reasons: readonly string[] = [],
  ) {
    super(message);
  }
}

export interface Client {
  /** JSON request (body serialized) or, with raw, a tarball upload; returns the parsed JSON reply. */
  json(method: string, path: string, body?: unknown, raw?: Uint8Array): Promise<unknown>;
  bytes(method: string, path: string): Promise<Uint8Array>;
}

/**
 * The code for a refusal without one of ours in the body (a proxy, another server, an older registry):
 * by HTTP status, so the user still gets a stable code; the message keeps the status line.
 */
export function statusCode(status: number): ErrorCode {
  if (status === 401) return 'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED';
  if (status === 403) return 'EDGELOOP_ERR_REGISTRY_FORBIDDEN';
  if (status === 404) return 'EDGELOOP_ERR_HTTP_NOT_FOUND';
  if (status === 405) return 'EDGELOOP_ERR_HTTP_METHOD_NOT_ALLOWED';
  if (status === 413) return 'EDGELOOP_ERR_HTTP_BODY_TOO_LARGE';
  if (status === 408 || status === 504) return 'EDGELOOP_ERR_HTTP_TIMEOUT';
  if (status >= 500) return 'EDGELOOP_ERR_HTTP_INTERNAL';
  if (status >= 400) return 'EDGELOOP_ERR_HTTP_BAD_REQUEST';
  return 'EDGELOOP_ERR_REGISTRY_UNREACHABLE';
}

/**
 * Options every client subcommand shares (STYLE.md habit 8): flag, EDGELOOP_* variable, --config file key
 * (the names below), one schema, frozen. Subcommand arguments (--to, --reason, ...) stay flags only.
 */
export const registryClientDefaults = {
  /** Registry base URL; flag --url. */
  registryUrl: DEFAULT_REGISTRY_URL,
  /** Bearer token ('' = none; writes always need one); flag --token. */
  registryToken: '',
  /** Print the server's JSON instead of a table. */
  json: false,
  /** Pinned public key files (PEM) that pull and verify check signatures against; flag --trusted-key. */
  trustedKeys: [] as readonly string[],
};

const clientSchema = z
  .object({
    registryUrl: z.string().regex(/^https?:\/\/[^/]/, 'must be an http(s) URL, e.g. http://127.0.0.1:8470'),
    registryToken: z.string(),
    json: boolOption,
    trustedKeys: listOption,
  })
  .strict();

export type RegistryClientConfig = Readonly<z.output<typeof clientSchema>>;

const envName = (key: string): string => `EDGELOOP_${key.replace(/([A-Z])/g, '_$1').toUpperCase()}`;
// `registry serve` reads these from the same environment (a host often runs both): not typos here.
const serveVariables = Object.keys(registryServeDefaults)
  .filter((k) => !(k in registryClientDefaults))
  .map(envName);

/** The client options from flags, EDGELOOP_* variables and --config; validated and frozen. */
export function loadRegistryClientConfig(values: Values, env: CliIO['env']): RegistryClientConfig {
  const flags: Record<string, unknown> = {};
  if (typeof values.url === 'string') flags.registryUrl = values.url;
  if (typeof values.token === 'string') flags.registryToken = values.token;
  if (values.json === true) flags.json = true;
  if (Array.isArray(values['trusted-key'])) flags.trustedKeys = values['trusted-key'];
  try {
    return loadConfig({
      // No command scope: the option names already start with "registry" (EDGELOOP_REGISTRY_URL), and a
      // 'registry' scope would strip that prefix before the typo check, so EDGELOOP_REGISTRY_ULR passed.
      defaults: registryClientDefaults,
      schema: clientSchema,
      flags,
      env,
      envIgnore: serveVariables,
      configFile: typeof values.config === 'string' ? values.config : undefined,
    });
  } catch (err) {
    // Name the option as the user gave it (--url notaurl), not its config key.
    const rename = { url: 'registryUrl', token: 'registryToken', 'trusted-key': 'trustedKeys' };
    const scalar = Object.fromEntries(
      Object.entries(values).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]),
    );
    throw nameOptionSource(err, (key) => optionSource(key, scalar, rename, env));
  }
}

/** A client for the configured registry URL and token. */
export function createRegistryClient(cfg: RegistryClientConfig): Client {
  const base = cfg.registryUrl.replace(/\/+$/, '');
  const token = cfg.registryToken;
  async function call(
    method: string,
    path: string,
    body?: Uint8Array | string,
    type?: string,
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (token !== '') headers.authorization = `Bearer ${token}`;
    if (type !== undefined) headers['content-type'] = type;
    let res: Response;
    try {
      res = await fetch(`${base}/api/v1${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new Refused(
        'EDGELOOP_ERR_REGISTRY_UNREACHABLE',
        `${base}: ${cause}. ${errorCatalogue.EDGELOOP_ERR_REGISTRY_UNREACHABLE}`,
      );
    }
    if (res.ok) return res;
    const text = await res.text();
    let e: { code?: string; message?: string; reasons?: string[] } = {};
    try {
      e = (JSON.parse(text) as { error?: typeof e }).error ?? {};
    } catch {
      // not our JSON: fall back to the status line
    }
    throw new Refused(
      isErrorCode(e.code) ? e.code : statusCode(res.status),
      e.message ?? `HTTP ${res.status} ${text.slice(0, 200)}`,
      e.reasons ?? [],
    );
  }
  return {
    async json(method, path, body, raw) {
      const res =
        raw !== undefined
          ? await call(method, path, raw, 'application/gzip')
          : await call(
              method,
              path,
              body === undefined ? undefined : JSON.stringify(body),
              body === undefined ? undefined : 'application/json',
            );
      return res.json();
    },
    async bytes(method, path) {
      const res = await call(method, path);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}

export const enc = encodeURIComponent;
const aliasSet = new Set(['staging', 'canary', 'production']);

/** A version, or the version an alias points at. */
export async function resolveVersion(c: Client, model: string, ref: string): Promise<string> {
  if (!aliasSet.has(ref)) return ref;
  const { aliases } = (await c.json('GET', `/models/${enc(model)}/aliases`)) as {
    aliases: { alias: string; version: string }[];
  };
  const hit = aliases.find((a) => a.alias === ref);
  if (hit === undefined) throw new Refused('EDGELOOP_ERR_REGISTRY_NOT_FOUND', `${model} has no ${ref} alias`);
  return hit.version;
}

export function need(positionals: string[], n: number, usage: string): string[] {
  if (positionals.length !== n)
    throw new EdgeloopError('EDGELOOP_ERR_USAGE', `expected: edgeloop registry ${usage}`);
  return positionals;
}

export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return (
    rows
      .map((r) =>
        r
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export function trustedKeyPaths(values: Values): string[] {
  const v = values['trusted-key'];
  return Array.isArray(v) ? v : [];
}

/** A version as the API returns it (docs/registry-api.md). */
export interface VersionJson {
  version: string;
  manifestDigest: string;
  createdAt: string;
  pushedBy: string;
  aliases: string[];
  files: { path: string; role: string; sha256: string; size: number }[];
  manifest?: {
    metrics?: Record<string, unknown>;
    labels?: string[];
    pipeline?: { id: string };
    description?: string;
  };
}
