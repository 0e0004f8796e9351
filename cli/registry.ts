// `edgeloop registry`: serve the model registry, and push, list, show, pull, verify, promote and read the
// history of model bundles, all through the HTTP API (docs/registry-api.md). Only `verify` works offline:
// it checks a pulled bundle against a pinned public key, trusting nothing the server said.
// This file parses arguments and runs the client subcommands; `serve` is registry-serve.ts, `push --onnx`
// is registry-byo.ts, and the HTTP client and shared helpers are registry-client.ts.

import { readBundle, readTrustedKeys, verifyBundleDir, writeBundleContents } from '../collector/index.ts';
import { parseCliArgs } from '../shared/config.ts';
import { EdgeloopError } from '../shared/errors.ts';
import { decodeBundleArchive, encodeBundleArchive } from '../shared/platform/tar.ts';
import { verifyBundle } from '../shared/bundle/verify.ts';
import type { Command, CliIO } from './commands.ts';
import { exitCodeFor } from './errors.ts';
import { pushOnnx } from './registry-byo.ts';
import {
  createRegistryClient,
  DEFAULT_REGISTRY_URL,
  loadRegistryClientConfig,
  enc,
  need,
  Refused,
  resolveVersion,
  table,
  type Values,
  type VersionJson,
} from './registry-client.ts';
import { serve } from './registry-serve.ts';

export { DEFAULT_REGISTRY_URL };

const help = `edgeloop registry: push, list, pull, verify and promote model bundles

Usage:
  edgeloop registry serve --data-dir <dir> --trusted-key <pub.pem> [--trusted-key ...]
                          [--tokens-file <tokens.json>] [--read-auth open|token] [--port 8470] [--host 127.0.0.1]
  edgeloop registry push <bundle dir|.tar|.tar.gz> [--model <name>]
  edgeloop registry push --onnx <model.onnx> --labels <a,b,..> --pipeline <id> [--pipeline-hash <hex>]
                         --dataset <features.csv> --key <signing.key> --name <model> --version <x.y.z>
                         [--metrics <metrics.json>] [--golden-rows 8] [--out <new bundle dir>]
  edgeloop registry list [<model>]
  edgeloop registry show <model> <version|alias> [--lineage]
  edgeloop registry pull <model> <version|alias> --out <new dir> [--trusted-key <pub.pem>]
  edgeloop registry verify <bundle dir|.tar|.tar.gz> --trusted-key <pub.pem> [--trusted-key ...]
  edgeloop registry promote <model> <version> [--to production] [--expect <version|none>] [--reason <text>]
  edgeloop registry policy <model> [--min-macro-f1 <0..1>] [--max-regression <0..1>] [--max-group-gap <0..1>]
                  [--require-staging-first]
  edgeloop registry history <model> [--alias staging|canary|production]

Client options (also a --config file key and an EDGELOOP_* variable; flag > variable > file > default):
  --url <url>          [registryUrl, EDGELOOP_REGISTRY_URL] registry base URL. Default ${DEFAULT_REGISTRY_URL}.
  --token <token>      [registryToken, EDGELOOP_REGISTRY_TOKEN] bearer token (writes always need one).
                       Default none.
  --json               [json, EDGELOOP_JSON] print the server's JSON instead of a table. Default false.
  --trusted-key <pem>  [trustedKeys, EDGELOOP_TRUSTED_KEYS, a comma list] pinned public key for pull and
                       verify; repeat for several. Default none.
  --config <file>      JSON file of the keys above.

Bring your own model (push --onnx): reads the model's I/O signature and ONNX metadata, computes the
drift reference profile from the dataset (CSV: a header of feature names, then one row per window, in
time order), records golden cases by running the model on the first --golden-rows rows, signs with --key
and pushes. --pipeline-hash defaults to the built-in pipeline's default parameters when --pipeline is
edgeloop-features/v1. --metrics is a JSON object (e.g. {"macroF1": 0.91}) the promotion gate can read.

Serve options (each is also a --config file key in camelCase, e.g. maxBundleMb, and an EDGELOOP_*
variable, e.g. EDGELOOP_MAX_BUNDLE_MB; precedence: flag > variable > config file > default):
  --data-dir <dir>      SQLite metadata (registry.sqlite) and the blob store (blobs/). Required.
  --trusted-key <pem>   public key whose signatures pushes must carry; repeat for several. Required.
  --tokens-file <file>  JSON [{"token": "...", "actor": "ci", "write": true}]; tokens >= 16 chars.
                        Without it, EDGELOOP_REGISTRY_TOKEN becomes one write token (actor "admin").
  --read-auth <mode>    open (default): reads need no token; token: reads need any valid token.
  --port <n>            TCP port, 0 picks a free one. Default 8470.
  --host <addr>         interface to bind. Default 127.0.0.1.
  --max-bundle-mb <n>   largest push accepted, MiB. Default 256.
  --request-timeout-ms <ms>     whole request (head and body), ms. Default 600000.
  --headers-timeout-ms <ms>     request head, ms. Default 30000.
  --connection-timeout-ms <ms>  a socket with no traffic, ms. Default 120000.
  --keep-alive-timeout-ms <ms>  an idle keep-alive socket, ms. Default 72000.
  --config <file>       JSON file of the options above (camelCase keys).

promote moves an alias by compare-and-set: --expect names the version the alias must point at now
("none": it must not exist); without --expect the move is unconditional. Moving production checks the
model's promotion policy (see policy) and fails with the reasons when the version does not meet it.

Exit codes: 0 done, 1 refused or failed (the message carries an EDGELOOP_ERR_* code), 2 usage.
`;

const options = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  model: { type: 'string' },
  out: { type: 'string' },
  lineage: { type: 'boolean' },
  'trusted-key': { type: 'string', multiple: true },
  to: { type: 'string' },
  expect: { type: 'string' },
  reason: { type: 'string' },
  alias: { type: 'string' },
  'min-macro-f1': { type: 'string' },
  'max-regression': { type: 'string' },
  'max-group-gap': { type: 'string' },
  'require-staging-first': { type: 'boolean' },
  'data-dir': { type: 'string' },
  'tokens-file': { type: 'string' },
  'read-auth': { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  'max-bundle-mb': { type: 'string' },
  'request-timeout-ms': { type: 'string' },
  'headers-timeout-ms': { type: 'string' },
  'connection-timeout-ms': { type: 'string' },
  'keep-alive-timeout-ms': { type: 'string' },
  config: { type: 'string' },
  onnx: { type: 'string' },
  labels: { type: 'string' },
  pipeline: { type: 'string' },
  'pipeline-hash': { type: 'string' },
  dataset: { type: 'string' },
  key: { type: 'string' },
  name: { type: 'string' },
  version: { type: 'string' },
  metrics: { type: 'string' },
  'golden-rows': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function runSub(sub: string, positionals: string[], values: Values, io: CliIO): Promise<number> {
  // serve has its own options (registry-serve.ts); every other subcommand is a client.
  if (sub === 'serve') return serve(values, io);
  const cfg = loadRegistryClientConfig(values, io.env);
  const print = (value: unknown, text: () => string): number => {
    io.stdout.write(cfg.json ? `${JSON.stringify(value, null, 2)}\n` : text());
    return 0;
  };
  const c = createRegistryClient(cfg);
  switch (sub) {
    case 'push': {
      if (typeof values.onnx === 'string') return pushOnnx(c, values, io);
      const [path] = need(positionals, 1, 'push <bundle dir|.tar|.tar.gz>');
      const contents = await readBundle(path as string);
      if (!contents.ok) throw new Refused(contents.code, contents.message);
      let name = typeof values.model === 'string' ? values.model : undefined;
      if (name === undefined) {
        try {
          name = String(
            (JSON.parse(new TextDecoder().decode(contents.value.manifest)) as { name?: unknown }).name,
          );
        } catch {
          throw new Refused(
            'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID',
            'manifest.json is not JSON; pass --model to push anyway',
          );
        }
      }
      // The server re-verifies everything; the archive is rebuilt from the files read, so a directory
      // and a tarball push the same bytes.
      const r = (await c.json(
        'POST',
        `/models/${enc(name)}/versions`,
        undefined,
        encodeBundleArchive(contents.value, { gzip: true }),
      )) as VersionJson & {
        created: boolean;
      };
      return print(
        r,
        () =>
          `${r.created ? 'pushed' : 'already present (identical)'} ${name}@${r.version} manifest ${r.manifestDigest}\n`,
      );
    }
    case 'list': {
      if (positionals.length === 0) {
        const r = (await c.json('GET', '/models')) as {
          models: {
            name: string;
            versions: number;
            latestVersion: string | null;
            aliases: Record<string, string>;
          }[];
        };
        return print(r, () =>
          table([
            ['MODEL', 'VERSIONS', 'LATEST', 'STAGING', 'CANARY', 'PRODUCTION'],
            ...r.models.map((m) => [
              m.name,
              String(m.versions),
              m.latestVersion ?? '-',
              m.aliases.staging ?? '-',
              m.aliases.canary ?? '-',
              m.aliases.production ?? '-',
            ]),
          ]),
        );
      }
      const [model] = need(positionals, 1, 'list [<model>]');
      const r = (await c.json('GET', `/models/${enc(model as string)}/versions`)) as {
        versions: VersionJson[];
      };
      return print(r, () =>
        table([
          ['VERSION', 'CREATED', 'PUSHED BY', 'ALIASES', 'DIGEST'],
          ...r.versions.map((v) => [
            v.version,
            v.createdAt,
            v.pushedBy,
            v.aliases.join(',') || '-',
            v.manifestDigest.slice(0, 16),
          ]),
        ]),
      );
    }
    case 'show': {
      const [model, ref] = need(positionals, 2, 'show <model> <version|alias>') as [string, string];
      const version = await resolveVersion(c, model, ref);
      if (values.lineage === true) {
        const r = await c.json('GET', `/models/${enc(model)}/versions/${enc(version)}/lineage`);
        io.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return 0;
      }
      const v = (await c.json('GET', `/models/${enc(model)}/versions/${enc(version)}`)) as VersionJson;
      return print(v, () => {
        const m = v.manifest ?? {};
        const metrics = Object.entries(m.metrics ?? {})
          .filter(([, x]) => typeof x === 'number')
          .map(([k, x]) => `${k}=${String(x)}`)
          .join(' ');
        return (
          `${model}@${v.version}${v.aliases.length > 0 ? ` (${v.aliases.join(', ')})` : ''}\n` +
          `  manifest digest  ${v.manifestDigest}\n  pushed           ${v.createdAt} by ${v.pushedBy}\n` +
          `  pipeline         ${m.pipeline?.id ?? '-'}\n  labels           ${(m.labels ?? []).join(', ')}\n  metrics          ${metrics || '-'}\n` +
          `  files\n${table(v.files.map((f) => ['   ', f.path, f.role, String(f.size), f.sha256.slice(0, 16)]))}`
        );
      });
    }
    case 'pull': {
      const [model, ref] = need(positionals, 2, 'pull <model> <version|alias> --out <dir>') as [
        string,
        string,
      ];
      if (typeof values.out !== 'string')
        throw new EdgeloopError('EDGELOOP_ERR_USAGE', 'pull needs --out <new dir>');
      const version = await resolveVersion(c, model, ref);
      const tar = await c.bytes('GET', `/models/${enc(model)}/versions/${enc(version)}/bundle`);
      const contents = decodeBundleArchive(tar);
      if (!contents.ok) throw new Refused(contents.code, contents.message);
      const keyPaths = cfg.trustedKeys;
      let note = 'not verified: pass --trusted-key or run `edgeloop registry verify`';
      if (keyPaths.length > 0) {
        const keys = await readTrustedKeys(keyPaths);
        if (!keys.ok) throw new Refused(keys.code, keys.message);
        const v = verifyBundle({ ...contents.value, trustedKeys: keys.value });
        if (!v.ok) throw new Refused(v.code, `${v.message} (nothing was written)`);
        note = `verified, key ${v.value.keyId}`;
      }
      const w = await writeBundleContents(values.out, contents.value);
      if (!w.ok) throw new Refused(w.code, w.message);
      io.stdout.write(
        `pulled ${model}@${version} into ${values.out} (${contents.value.files.size + 2} files, ${note})\n`,
      );
      return 0;
    }
    case 'verify': {
      const [path] = need(positionals, 1, 'verify <bundle dir|.tar|.tar.gz> --trusted-key <pub.pem>');
      const keyPaths = cfg.trustedKeys;
      if (keyPaths.length === 0)
        throw new EdgeloopError('EDGELOOP_ERR_USAGE', 'verify needs --trusted-key <pub.pem>');
      const keys = await readTrustedKeys(keyPaths);
      if (!keys.ok) throw new Refused(keys.code, keys.message);
      const v = await verifyBundleDir(path as string, keys.value);
      if (!v.ok) throw new Refused(v.code, v.message);
      const m = v.value.manifest;
      return print(
        {
          name: m.name,
          version: m.version,
          digest: v.value.digest,
          keyId: v.value.keyId,
          files: m.files.length,
        },
        () =>
          `OK ${m.name}@${m.version}: signature by key ${v.value.keyId}, ${m.files.length} files match manifest ${v.value.digest}\n`,
      );
    }
    case 'promote': {
      const [model, version] = need(positionals, 2, 'promote <model> <version> [--to <alias>]') as [
        string,
        string,
      ];
      const alias = typeof values.to === 'string' ? values.to : 'production';
      const expect = values.expect;
      const body = {
        version,
        ...(typeof expect === 'string' ? { expectedVersion: expect === 'none' ? null : expect } : {}),
        reason: typeof values.reason === 'string' ? values.reason : `promoted with edgeloop registry promote`,
      };
      const r = (await c.json('PUT', `/models/${enc(model)}/aliases/${enc(alias)}`, body)) as {
        from: string | null;
        to: string;
        changed: boolean;
      };
      return print(r, () =>
        r.changed
          ? `${model} ${alias}: ${r.from ?? '(none)'} -> ${r.to}\n`
          : `${model} ${alias} already points at ${r.to}\n`,
      );
    }
    case 'policy': {
      const [model] = need(
        positionals,
        1,
        'policy <model> [--min-macro-f1 x] [--max-regression y] [--max-group-gap z] [--require-staging-first]',
      );
      const num = (k: string): number | undefined =>
        typeof values[k] === 'string' ? Number(values[k]) : undefined;
      const policy = {
        ...(num('min-macro-f1') === undefined ? {} : { minMacroF1: num('min-macro-f1') }),
        ...(num('max-regression') === undefined ? {} : { maxRegressionVsProduction: num('max-regression') }),
        ...(num('max-group-gap') === undefined ? {} : { maxGroupGap: num('max-group-gap') }),
        ...(values['require-staging-first'] === true ? { requireStagingFirst: true } : {}),
      };
      const r =
        Object.keys(policy).length === 0
          ? await c.json('GET', `/models/${enc(model as string)}/policy`)
          : await c.json('PUT', `/models/${enc(model as string)}/policy`, policy);
      return print(r, () => `${JSON.stringify((r as { policy: unknown }).policy)}\n`);
    }
    case 'history': {
      const [model] = need(positionals, 1, 'history <model> [--alias <alias>]');
      const path =
        typeof values.alias === 'string'
          ? `/models/${enc(model as string)}/aliases/${enc(values.alias)}/history`
          : `/models/${enc(model as string)}/history`;
      const r = (await c.json('GET', path)) as {
        history: {
          alias: string;
          from: string | null;
          to: string;
          actor: string;
          reason: string;
          at: string;
        }[];
      };
      return print(r, () =>
        table([
          ['WHEN', 'ALIAS', 'FROM', 'TO', 'WHO', 'WHY'],
          ...r.history.map((h) => [h.at, h.alias, h.from ?? '-', h.to, h.actor, h.reason]),
        ]),
      );
    }
    default:
      throw new EdgeloopError(
        'EDGELOOP_ERR_USAGE',
        `unknown subcommand "${sub}" (serve, push, list, show, pull, verify, promote, policy, history)`,
      );
  }
}

async function run(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === 'help') {
    io.stdout.write(help);
    return sub === undefined ? 2 : 0;
  }
  try {
    const { values, positionals } = parseCliArgs(rest, options, true);
    return await runSub(sub, positionals, values, io);
  } catch (err) {
    if (err instanceof Refused) {
      io.stderr.write(
        `edgeloop registry ${sub}: ${err.message} [${err.code}]\n${err.reasons.map((r) => `  - ${r}\n`).join('')}`,
      );
      return 1;
    }
    if (err instanceof EdgeloopError) {
      io.stderr.write(`edgeloop registry ${sub}: ${err.message} [${err.code}]\n`);
      return exitCodeFor(err.code);
    }
    throw err;
  }
}

export const registryCommand: Command = {
  summary: 'push, list, pull, verify and promote model bundles',
  help,
  run,
};
