// The write check every loop API shares (rollouts, update requests, training jobs and labels): the
// integrator passes the registry's write-token check (collector/loop/setup.ts writeAuthorizer).

import type { HttpReply, HttpRequest } from '../adapters/http.ts';

/**
 * Decides whether a write may go ahead: returns the actor recorded with the change, or undefined after it
 * has sent the refusal (401/403) itself.
 */
export type WriteAuthorizer = (
  req: HttpRequest,
  reply: HttpReply,
) => string | undefined | Promise<string | undefined>;
