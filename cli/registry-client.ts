// HTTP client side of `edgeloop registry` (docs/registry-api.md): the bearer-token client, refusals carrying
// the server's EDGELOOP_ERR_* code, and the small helpers every subcommand shares.
import { EdgeloopError, errorCatalogue } from '../shared/errors.ts';
import type { CliIO } from './commands.ts';

export const DEFAULT_REGISTRY_URL = 'http://127.0.0.1:8470';

/** Parsed `edgeloop registry` options (parseCliArgs values). */
export type Values = Record<string, string | boolean | string[] | undefined>;

/** A refusal from the server or a local check: printed with its code, exit 1. */
export class Refused extends Error {
  constructor(
    readonly code: string,
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

/** A client for --url (or EDGELOOP_REGISTRY_URL) with --token (or EDGELOOP_REGISTRY_TOKEN). */
export function createRegistryClient(values: Values, env: CliIO['env']): Client {
  const base = (
    typeof values.url === 'string' ? values.url : (env.EDGELOOP_REGISTRY_URL ?? DEFAULT_REGISTRY_URL)
  ).replace(/\/+$/, '');
  const token = typeof values.token === 'string' ? values.token : env.EDGELOOP_REGISTRY_TOKEN;
  async function call(
    method: string,
    path: string,
    body?: Uint8Array | string,
    type?: string,
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`;
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
      e.code ?? `HTTP ${res.status}`,
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
