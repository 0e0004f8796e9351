// The model download on node:http (agent/adapters/http-get.ts) instead of the global fetch, whose undici
// keeps about 15 MiB resident in the agent (issue #8 §6 "Agent memory", docs/deploy/README.md "Memory").
// Real HTTP servers on port 0: redirects, headers, cancel, abort, and a whole download() with the global
// fetch replaced by a function that throws, so any use of it fails the test.

import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { download } from '../../agent/adapters/download.ts';
import { httpGet } from '../../agent/adapters/http-get.ts';

async function serve(
  t: TestContext,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
}

const body = Buffer.from('edgeloop bundle bytes '.repeat(100));

test('httpGet follows a relative redirect, keeps the request headers and reads the body', async (t) => {
  const seen: (string | undefined)[] = [];
  const base = await serve(t, (req, res) => {
    seen.push(req.headers.range);
    if (req.url === '/old') {
      res.writeHead(302, { location: '/new' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-length': body.length, 'x-two': ['a', 'b'] });
    res.end(body);
  });
  const res = await httpGet(`${base}/old`, { headers: { range: 'bytes=0-' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('Content-Length'), String(body.length));
  assert.equal(res.headers.get('x-two'), 'a, b');
  assert.equal(res.headers.get('x-missing'), null);
  assert.ok(res.body !== null);
  const chunks: Uint8Array[] = [];
  for await (const c of res.body) chunks.push(c);
  assert.deepEqual(Buffer.concat(chunks), body);
  assert.deepEqual(seen, ['bytes=0-', 'bytes=0-']);
});

test('httpGet refuses a redirect loop, other protocols, and stops on abort', async (t) => {
  const base = await serve(t, (req, res) => {
    if (req.url === '/loop') {
      res.writeHead(301, { location: '/loop' });
      res.end();
      return;
    }
    if (req.url === '/ftp') {
      res.writeHead(302, { location: 'ftp://example.invalid/x' });
      res.end();
      return;
    }
    res.writeHead(200);
    res.write('partial'); // and never ends
  });
  await assert.rejects(httpGet(`${base}/loop`), /too many redirects/);
  await assert.rejects(httpGet(`${base}/ftp`), /unsupported protocol/);
  const abort = new AbortController();
  const res = await httpGet(`${base}/slow`, { signal: abort.signal });
  assert.equal(res.status, 200);
  assert.ok(res.body !== null);
  const reading = (async () => {
    for await (const chunk of res.body ?? []) abort.abort(chunk);
  })();
  await assert.rejects(reading);
  const cancelled = await httpGet(`${base}/slow`);
  await cancelled.body?.cancel();
});

test('download() never uses the global fetch (undici would stay resident)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-http-get-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const realFetch = globalThis.fetch;
  globalThis.fetch = () => Promise.reject(new Error('the global fetch was used'));
  t.after(() => {
    globalThis.fetch = realFetch;
  });
  const base = await serve(t, (req, res) => {
    if (req.url === '/bundle') {
      res.writeHead(307, { location: '/bundles/b.tar' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  const dest = join(dir, 'b.tar');
  const r = await download({ url: `${base}/bundle`, dest, deadlineMs: 10_000, retryBaseMs: 5 });
  assert.ok(r.ok, r.ok ? '' : r.message);
  assert.equal(r.value.bytes, body.length);
  assert.deepEqual(readFileSync(dest), body);
});
