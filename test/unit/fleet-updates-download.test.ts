// The fleet's bundle download (firmware-sim/adapters/download.ts) against a real HTTP server on port 0:
// 503s and cut connections are retried with backoff (each retry reported) and the body arrives; 404 is
// final; a body over the limit is refused; the deadline ends the retries with the unreachable code; an
// abort stops them.

import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import {
  getBundle,
  type BundleGetOptions,
  type BundleGetRetry,
} from '../../firmware-sim/adapters/download.ts';

const BODY = new Uint8Array(Array.from({ length: 5000 }, (_, i) => i % 251));

async function serve(
  t: TestContext,
  plan: ('503' | 'cut' | '404' | 'ok')[],
): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    const step = plan[Math.min(hits, plan.length - 1)];
    hits++;
    if (step === '503') res.writeHead(503).end();
    else if (step === '404') res.writeHead(404).end();
    else if (step === 'cut') {
      res.writeHead(200, { 'content-length': BODY.byteLength });
      res.write(Buffer.from(BODY.subarray(0, 100)));
      setImmediate(() => req.socket.destroy());
    } else res.writeHead(200, { 'content-length': BODY.byteLength }).end(Buffer.from(BODY));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/b.tar`, hits: () => hits };
}

const options = (url: string, o: Partial<BundleGetOptions> = {}): BundleGetOptions => ({
  url,
  deadlineMs: 10_000,
  attemptTimeoutMs: 5_000,
  maxBytes: 1_000_000,
  retryBaseMs: 20,
  retryCapMs: 50,
  random: () => 0.5,
  ...o,
});

test('503 and a cut body are retried (and reported); then the whole body arrives', async (t) => {
  const s = await serve(t, ['503', 'cut', 'ok']);
  const retries: BundleGetRetry[] = [];
  const r = await getBundle(options(s.url, { onRetry: (x) => retries.push(x) }));
  assert.ok(r.ok, r.ok ? '' : r.message);
  assert.deepEqual(r.value, BODY);
  assert.equal(s.hits(), 3);
  assert.deepEqual(
    retries.map((x) => [x.attempt, x.code]),
    [
      [1, 'EDGELOOP_ERR_REGISTRY_UNREACHABLE'],
      [2, 'EDGELOOP_ERR_REGISTRY_UNREACHABLE'],
    ],
  );
  assert.match(retries[0]?.message ?? '', /answered 503/);
  assert.match(retries[1]?.message ?? '', /interrupted/);
});

test('404 is final; a body over the limit is refused', async (t) => {
  const s = await serve(t, ['404']);
  const r = await getBundle(options(s.url));
  assert.equal(r.ok ? '' : r.code, 'EDGELOOP_ERR_MODEL_DOWNLOAD');
  assert.equal(s.hits(), 1);
  const big = await serve(t, ['ok']);
  const r2 = await getBundle(options(big.url, { maxBytes: 1000 }));
  assert.equal(r2.ok ? '' : r2.code, 'EDGELOOP_ERR_MODEL_DOWNLOAD');
  assert.match(r2.ok ? '' : r2.message, /limit/);
});

// The timeout catches an abort that is not noticed until the 30 s backoff ends.
test('the deadline ends the retries (unreachable); an abort stops them', { timeout: 20_000 }, async (t) => {
  const s = await serve(t, ['503']);
  const r = await getBundle(options(s.url, { deadlineMs: 300 }));
  assert.equal(r.ok ? '' : r.code, 'EDGELOOP_ERR_REGISTRY_UNREACHABLE');
  assert.match(r.ok ? '' : r.message, /gave up after \d+ attempt/);
  assert.ok(s.hits() >= 2);
  const ac = new AbortController();
  const pending = getBundle(
    options(s.url, {
      deadlineMs: 600_000,
      signal: ac.signal,
      retryBaseMs: 60_000,
      retryCapMs: 60_000,
      onRetry: () => {
        ac.abort();
      },
    }),
  );
  const r2 = await pending;
  assert.equal(r2.ok ? '' : r2.code, 'EDGELOOP_ERR_MODEL_DOWNLOAD');
  assert.match(r2.ok ? '' : r2.message, /aborted/);
});
