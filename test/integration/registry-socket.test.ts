// The registry over a real socket, where inject() cannot show it: a refused push is answered from its
// headers alone, before any of its (declared 100 MiB) body is sent, and the connection is closed instead
// of drained; an over-limit Content-Length is 413 the same way; a busy port is a coded error; the
// server timeouts are set; and client errors (a timeout among them) get JSON codes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { EdgeloopError } from '../../shared/errors.ts';
import { HTTP_TIMEOUTS } from '../../collector/adapters/http.ts';
import { createRegistryServer, type RegistryServer } from '../../collector/registry/server.ts';
import { WRITE_TOKEN } from './registry-fixture.ts';

const key = generateSigningKeyPair();

async function start(t: { after(fn: () => unknown): void }, port = 0): Promise<RegistryServer> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-registry-socket-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const server = await createRegistryServer({
    dataDir: dir,
    tokens: [{ token: WRITE_TOKEN, actor: 'ci-bot' }],
    trustedKeys: [key.publicKeyPem],
    maxBundleBytes: 200 * 1024 * 1024,
    port,
  });
  t.after(() => server.close());
  return server;
}

interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * Sends a request head that declares `contentLength` body bytes, then only `sent` of them, and reads
 * until the server ends the connection (a server that waited for the body would never answer: the test
 * then fails on its timeout). The rest of the body is never written.
 */
function pushHead(server: RegistryServer, headers: string, contentLength: number, sent: number) {
  return new Promise<RawResponse>((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', reject);
    socket.on('end', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const hs: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        hs[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      socket.destroy();
      resolve({ status: Number(statusLine.split(' ')[1]), headers: hs, body });
    });
    socket.write(
      `POST /api/v1/models/pump-condition/versions HTTP/1.1\r\nhost: 127.0.0.1\r\n` +
        `content-type: application/x-tar\r\ncontent-length: ${contentLength}\r\n${headers}\r\n` +
        'x'.repeat(sent),
    );
  });
}

const HUNDRED_MIB = 100 * 1024 * 1024;

test('a push without a token, or with an unknown one, is refused before its body is sent', async (t) => {
  const server = await start(t);
  const anon = await pushHead(server, '', HUNDRED_MIB, 10);
  assert.equal(anon.status, 401);
  // Answered and closed with 10 of 104857600 bytes sent: not drained, not buffered.
  assert.equal(anon.headers.connection, 'close');
  assert.equal(
    (JSON.parse(anon.body) as { error: { code: string } }).error.code,
    'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED',
  );

  const unknown = await pushHead(
    server,
    'authorization: Bearer nobody-knows-this-token\r\n',
    HUNDRED_MIB,
    10,
  );
  assert.equal(unknown.status, 401);
  assert.match((JSON.parse(unknown.body) as { error: { message: string } }).error.message, /not known/);

  // The audit log recorded both refusals; the server is still serving.
  const audit = (await (await fetch(`${server.url}/api/v1/audit`)).json()) as { entries: unknown[] };
  assert.equal(audit.entries.length, 2);
});

test('a Content-Length over the push limit is 413 before the body is read', async (t) => {
  const server = await start(t);
  const res = await pushHead(server, `authorization: Bearer ${WRITE_TOKEN}\r\n`, 300 * 1024 * 1024, 10);
  assert.equal(res.status, 413);
  assert.equal(res.headers.connection, 'close');
  assert.equal(
    (JSON.parse(res.body) as { error: { code: string } }).error.code,
    'EDGELOOP_ERR_HTTP_BODY_TOO_LARGE',
  );
});

test('a busy port is EDGELOOP_ERR_HTTP_LISTEN naming the address, not a stack trace', async (t) => {
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => blocker.close(resolve)));
  const port = (blocker.address() as AddressInfo).port;
  await assert.rejects(start(t, port), (err: unknown) => {
    assert.ok(err instanceof EdgeloopError);
    assert.equal(err.code, 'EDGELOOP_ERR_HTTP_LISTEN');
    assert.match(err.message, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use`));
    return true;
  });
});

test('server timeouts are set (none is left at "never")', async (t) => {
  const server = await start(t);
  const s = server.app.server;
  assert.equal(s.headersTimeout, HTTP_TIMEOUTS.headersTimeoutMs);
  assert.equal(s.requestTimeout, HTTP_TIMEOUTS.requestTimeoutMs);
  assert.equal(s.keepAliveTimeout, HTTP_TIMEOUTS.keepAliveTimeoutMs);
  assert.equal(s.timeout, HTTP_TIMEOUTS.connectionTimeoutMs);
});

test('a client error (request timeout, oversized head, garbage) is answered with a stable JSON code', async (t) => {
  const server = await start(t);
  // Node raises these as 'clientError' on the server; a PassThrough stands in for the socket, so the test
  // does not wait out a real timeout.
  const answer = (code: string): Promise<string> => {
    const socket = new PassThrough();
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    const done = new Promise<string>((resolve) =>
      socket.on('close', () => {
        resolve(text);
      }),
    );
    server.app.server.emit('clientError', Object.assign(new Error(code), { code }), socket);
    return done;
  };
  const timeout = await answer('ERR_HTTP_REQUEST_TIMEOUT');
  assert.match(timeout, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(timeout, /"code":"EDGELOOP_ERR_HTTP_TIMEOUT"/);
  assert.match(
    await answer('HPE_HEADER_OVERFLOW'),
    /^HTTP\/1\.1 431 [^]*"code":"EDGELOOP_ERR_HTTP_BAD_REQUEST"/,
  );
  assert.match(
    await answer('HPE_INVALID_METHOD'),
    /^HTTP\/1\.1 400 [^]*"code":"EDGELOOP_ERR_HTTP_BAD_REQUEST"/,
  );
});
