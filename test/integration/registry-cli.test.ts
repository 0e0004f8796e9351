// `edgeloop registry` against a real registry server: push a bundle directory, list, show, promote
// through staging to production, history, pull into a fresh directory and verify it offline against the
// pinned key; a tampered pull fails verify with its code; errors print codes and exit 1.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PassThrough } from 'node:stream';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBundleContents } from '../../collector/registry/bundle-io.ts';
import { registryCommand } from '../../cli/registry.ts';
import { runCommand, type CommandRun } from '../helpers/run-command.ts';
import { makeBundle, startHarness, WRITE_TOKEN } from './registry-fixture.ts';
import { waitFor } from '../helpers/wait.ts';

const cli = (argv: string[], env: Record<string, string> = {}): Promise<CommandRun> =>
  runCommand(registryCommand, argv, env);

test('registry CLI: push, list, show, promote, history, pull, verify', async (t) => {
  const h = await startHarness(t);
  const work = mkdtempSync(join(tmpdir(), 'edgeloop-registry-cli-'));
  t.after(() => {
    rmSync(work, { recursive: true, force: true });
  });
  const keyFile = join(work, 'signing.pub');
  writeFileSync(keyFile, h.key.publicKeyPem);
  const env = { EDGELOOP_REGISTRY_URL: h.server.url, EDGELOOP_REGISTRY_TOKEN: WRITE_TOKEN };

  const b = await makeBundle(h.key, { version: '2.0.0' });
  const dir = join(work, 'bundle');
  assert.ok((await writeBundleContents(dir, b.contents)).ok);

  const pushed = await cli(['push', dir], env);
  assert.equal(pushed.code, 0, pushed.err);
  assert.match(pushed.out, /^pushed pump-condition@2\.0\.0 manifest [0-9a-f]{64}\n$/);
  assert.match((await cli(['push', dir], env)).out, /already present \(identical\)/);

  // Without a token the write is refused with the code, exit 1.
  const anon = await cli(['push', dir, '--url', h.server.url]);
  assert.equal(anon.code, 1);
  assert.match(anon.err, /\[EDGELOOP_ERR_REGISTRY_UNAUTHORIZED\]/);

  const list = await cli(['list'], env);
  assert.match(list.out, /^MODEL\s+VERSIONS\s+LATEST/);
  assert.match(list.out, /pump-condition\s+1\s+2\.0\.0/);
  assert.match((await cli(['list', 'pump-condition'], env)).out, /2\.0\.0\s+\S+\s+ci-bot/);

  assert.equal(
    (
      await cli(
        [
          'promote',
          'pump-condition',
          '2.0.0',
          '--to',
          'staging',
          '--expect',
          'none',
          '--reason',
          'candidate',
        ],
        env,
      )
    ).code,
    0,
  );
  const prod = await cli(['promote', 'pump-condition', '2.0.0', '--expect', 'none'], env);
  assert.equal(prod.out, 'pump-condition production: (none) -> 2.0.0\n');
  const stale = await cli(['promote', 'pump-condition', '2.0.0', '--to', 'canary', '--expect', '1.0.0'], env);
  assert.equal(stale.code, 1);
  assert.match(stale.err, /\[EDGELOOP_ERR_REGISTRY_ALIAS_CONFLICT\]/);

  const shown = await cli(['show', 'pump-condition', 'production'], env);
  assert.match(shown.out, /^pump-condition@2\.0\.0 \(staging, production\)/);
  assert.match(shown.out, /macroF1=0\.93/);
  const asJson = JSON.parse((await cli(['show', 'pump-condition', '2.0.0', '--json'], env)).out) as {
    manifestDigest: string;
  };
  assert.equal(asJson.manifestDigest.length, 64);

  const hist = await cli(['history', 'pump-condition'], env);
  assert.match(hist.out, /staging\s+-\s+2\.0\.0\s+ci-bot\s+candidate/);
  assert.match(hist.out, /production\s+-\s+2\.0\.0\s+ci-bot\s+promoted with edgeloop registry promote/);

  assert.equal((await cli(['policy', 'pump-condition', '--min-macro-f1', '0.99'], env)).code, 0);
  const gated = await cli(
    ['promote', 'pump-condition', '2.0.0', '--to', 'production', '--expect', '2.0.0'],
    env,
  );
  assert.equal(gated.code, 0, 'already there: no move, no gate');
  assert.ok(
    (await writeBundleContents(join(work, 'b2'), (await makeBundle(h.key, { version: '2.1.0' })).contents))
      .ok,
  );
  assert.equal((await cli(['push', join(work, 'b2')], env)).code, 0);
  const refused = await cli(['promote', 'pump-condition', '2.1.0', '--expect', '2.0.0'], env);
  assert.equal(refused.code, 1);
  assert.match(
    refused.err,
    /\[EDGELOOP_ERR_REGISTRY_GATE_FAILED\]\n {2}- macroF1 0\.9300 is below the minimum 0\.99\n/,
  );

  // Pull into a fresh directory (verifying on the way), then verify offline.
  const pulled = join(work, 'pulled');
  const pull = await cli(
    ['pull', 'pump-condition', 'production', '--out', pulled, '--trusted-key', keyFile],
    env,
  );
  assert.equal(pull.code, 0, pull.err);
  assert.match(pull.out, /verified, key [0-9a-f]{16}/);
  assert.deepEqual(
    readFileSync(join(pulled, 'model.onnx')),
    Buffer.from(b.contents.files.get('model.onnx')!),
  );
  const ok = await cli(['verify', pulled, '--trusted-key', keyFile]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /^OK pump-condition@2\.0\.0: signature by key/);
  // Pulling into a non-empty directory is refused.
  assert.equal((await cli(['pull', 'pump-condition', '2.0.0', '--out', pulled], env)).code, 1);

  writeFileSync(join(pulled, 'report.md'), readFileSync(join(pulled, 'report.md'), 'utf8').replace('#', '!'));
  const bad = await cli(['verify', pulled, '--trusted-key', keyFile]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /\[EDGELOOP_ERR_BUNDLE_HASH_MISMATCH\]/);

  const usage = await cli(['verify', pulled]);
  assert.equal(usage.code, 2);
  assert.match((await cli(['lsit'])).err, /unknown subcommand "lsit"/);
  const down = await cli(['list', '--url', 'http://127.0.0.1:9']);
  assert.equal(down.code, 1);
  assert.match(down.err, /\[EDGELOOP_ERR_REGISTRY_UNREACHABLE\]/);
});

test('registry serve starts from flags and stops on abort', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'edgeloop-registry-serve-'));
  t.after(() => {
    rmSync(work, { recursive: true, force: true });
  });
  const { generateSigningKeyPair } = await import('../../shared/bundle/signing.ts');
  writeFileSync(join(work, 'k.pub'), generateSigningKeyPair().publicKeyPem);
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  const ac = new AbortController();
  const running = registryCommand.run(
    ['serve', '--data-dir', join(work, 'data'), '--trusted-key', join(work, 'k.pub'), '--port', '0'],
    {
      stdout,
      stderr: new PassThrough(),
      env: {},
      signal: ac.signal,
    },
  );
  await waitFor(
    () => `the registry to listen (output so far: ${out})`,
    () => out.includes('listening'),
  );
  const url = /listening on (\S+)\/api\/v1/.exec(out)![1]!;
  const res = await fetch(`${url}/api/v1/models`);
  assert.deepEqual(await res.json(), { models: [] });
  ac.abort();
  assert.equal(await running, 0);
});

test('registry serve on a busy port: one line with the code and the address, exit 2', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'edgeloop-registry-busy-'));
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await new Promise((resolve) => blocker.close(resolve));
    rmSync(work, { recursive: true, force: true });
  });
  const port = (blocker.address() as AddressInfo).port;
  const { generateSigningKeyPair } = await import('../../shared/bundle/signing.ts');
  writeFileSync(join(work, 'k.pub'), generateSigningKeyPair().publicKeyPem);
  const r = await cli([
    'serve',
    '--data-dir',
    join(work, 'data'),
    '--trusted-key',
    join(work, 'k.pub'),
    '--port',
    String(port),
  ]);
  assert.equal(r.code, 2, 'a port that cannot be used is the setup, like a bad option');
  assert.match(
    r.err,
    new RegExp(
      `^edgeloop registry serve: cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use.*\\[EDGELOOP_ERR_HTTP_LISTEN\\]\\n$`,
      'm',
    ),
  );
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
});

test('registry serve options come from flags, EDGELOOP_* variables and a config file, validated', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'edgeloop-registry-config-'));
  t.after(() => {
    rmSync(work, { recursive: true, force: true });
  });
  const { generateSigningKeyPair } = await import('../../shared/bundle/signing.ts');
  writeFileSync(join(work, 'k.pub'), generateSigningKeyPair().publicKeyPem);
  writeFileSync(join(work, 'serve.json'), JSON.stringify({ dataDir: join(work, 'data'), readAuth: 'token' }));

  const missing = await cli(['serve', '--trusted-key', join(work, 'k.pub')]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /dataDir: is required.*\[EDGELOOP_ERR_CONFIG_INVALID\]/);
  const typo = await cli(['serve', '--config', join(work, 'serve.json')], { EDGELOOP_MAX_BUNDEL_MB: '5' });
  assert.equal(typo.code, 2);
  assert.match(
    typo.err,
    /EDGELOOP_MAX_BUNDEL_MB \(did you mean EDGELOOP_MAX_BUNDLE_MB\?\).*CONFIG_UNKNOWN_OPTION/,
  );
  const badPort = await cli([
    'serve',
    '--config',
    join(work, 'serve.json'),
    '--trusted-key',
    join(work, 'k.pub'),
    '--port',
    '70000',
  ]);
  assert.equal(badPort.code, 2);
  assert.match(badPort.err, /--port 70000: expected an integer 0\.\.65535.*\[EDGELOOP_ERR_CONFIG_INVALID\]/);
  const timeouts = await cli([
    'serve',
    '--config',
    join(work, 'serve.json'),
    '--trusted-key',
    join(work, 'k.pub'),
    '--headers-timeout-ms',
    '900000',
  ]);
  assert.match(timeouts.err, /--headers-timeout-ms 900000: 900000 is longer than requestTimeoutMs/);

  // Keys from the variable, the data dir and read auth from the file, the port from the flag.
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  const ac = new AbortController();
  const running = registryCommand.run(['serve', '--config', join(work, 'serve.json'), '--port', '0'], {
    stdout,
    stderr: new PassThrough(),
    env: { EDGELOOP_TRUSTED_KEYS: join(work, 'k.pub'), EDGELOOP_PORT: '1' },
    signal: ac.signal,
  });
  await waitFor(
    () => `the registry to listen (output so far: ${out})`,
    () => out.includes('listening'),
  );
  assert.match(out, /reads token, 1 trusted key/);
  const url = /listening on (\S+)\/api\/v1/.exec(out)![1]!;
  assert.equal((await fetch(`${url}/api/v1/models`)).status, 401, 'readAuth token from the file');
  ac.abort();
  assert.equal(await running, 0);
});
