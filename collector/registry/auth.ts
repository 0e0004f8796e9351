// Bearer-token auth for the registry: writes always need a token with write access; reads are open or
// need any valid token, by config (issue #3 section 6). Tokens are compared through their SHA-256 with
// timingSafeEqual, so response time does not leak how much of a guess matched.

import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { describeIssue } from '../../shared/config.ts';
import { EdgeloopError, type ErrorCode } from '../../shared/errors.ts';

export interface RegistryToken {
  /** The secret, as sent in `Authorization: Bearer <token>`. At least 16 characters. */
  readonly token: string;
  /** Who this token is; recorded as the actor in the audit log and alias history. */
  readonly actor: string;
  /** false makes a read-only token (reads when readAuth is 'token'; writes get 403). Default true. */
  readonly write?: boolean;
}

export type ReadAuth = 'open' | 'token';

export type AuthResult =
  | { readonly ok: true; readonly actor: string }
  | {
      readonly ok: false;
      readonly status: 401 | 403;
      readonly code: ErrorCode;
      readonly actor: string;
      /** Says which: no token, a malformed header, a token the registry does not know, read-only. */
      readonly message: string;
    };

export interface RegistryAuth {
  read(authorization: string | undefined): AuthResult;
  write(authorization: string | undefined): AuthResult;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function createRegistryAuth(tokens: readonly RegistryToken[], readAuth: ReadAuth): RegistryAuth {
  for (const t of tokens) {
    if (t.token.length < 16)
      throw new EdgeloopError(
        'EDGELOOP_ERR_CONFIG_INVALID',
        `token for actor "${t.actor}" is shorter than 16 characters`,
      );
  }
  const known = tokens.map((t) => ({ hash: digest(t.token), actor: t.actor, write: t.write ?? true }));

  type Who = { actor: string; write: boolean } | { missing: string };

  function identify(authorization: string | undefined): Who {
    if (authorization === undefined || authorization.trim() === '')
      return {
        missing:
          'this request needs a registry token: pass --token or set EDGELOOP_REGISTRY_TOKEN (sent as Authorization: Bearer <token>)',
      };
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (m?.[1] === undefined) return { missing: 'the Authorization header must be "Bearer <token>"' };
    const h = digest(m[1]);
    let hit: { actor: string; write: boolean } | undefined;
    // Compare against every token (no early exit) so timing does not reveal which one matched.
    for (const k of known) if (timingSafeEqual(h, k.hash)) hit ??= k;
    return (
      hit ?? {
        missing:
          "the token is not known to this registry: check --token / EDGELOOP_REGISTRY_TOKEN against the server's tokens",
      }
    );
  }

  const unauthorized = (message: string): AuthResult => ({
    ok: false,
    status: 401,
    code: 'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED',
    actor: 'anonymous',
    message,
  });

  return {
    read(authorization) {
      const who = identify(authorization);
      if ('actor' in who) return { ok: true, actor: who.actor };
      // Open reads ignore a bad token rather than refuse what needs none.
      if (readAuth === 'open') return { ok: true, actor: 'anonymous' };
      return unauthorized(who.missing);
    },
    write(authorization) {
      const who = identify(authorization);
      if (!('actor' in who)) return unauthorized(who.missing);
      if (!who.write)
        return {
          ok: false,
          status: 403,
          code: 'EDGELOOP_ERR_REGISTRY_FORBIDDEN',
          actor: who.actor,
          message: `the token of "${who.actor}" is read-only; writes need a token with write access`,
        };
      return { ok: true, actor: who.actor };
    },
  };
}

const tokensSchema = z.array(
  z.strictObject({
    token: z.string().min(16, 'tokens must be at least 16 characters'),
    actor: z.string().min(1).max(128),
    write: z.boolean().optional(),
  }),
);

/** Parses a tokens file: JSON `[{ "token": "...", "actor": "ci", "write": true }]`. Throws on bad config. */
export function parseRegistryTokens(text: string, source: string): RegistryToken[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `${source} is not JSON`);
  }
  const r = tokensSchema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new EdgeloopError(
      'EDGELOOP_ERR_CONFIG_INVALID',
      `${source}: ${i ? describeIssue(i.path, i.message) : 'invalid'}`,
    );
  }
  return r.data.map((t) => ({
    token: t.token,
    actor: t.actor,
    ...(t.write === undefined ? {} : { write: t.write }),
  }));
}
