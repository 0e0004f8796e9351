// `edgeloop registry serve`: loads the serve options (flags, EDGELOOP_* variables, --config file; one
// schema, frozen: collector/registry/serve-config.ts), then runs the registry HTTP service until the CLI's
// abort signal fires (SIGINT/SIGTERM), and closes it. A busy port is EDGELOOP_ERR_HTTP_LISTEN, printed as
// one line with the address, like every EdgeloopError, and exits 2 (the setup is at fault, cli/errors.ts).
import { readFile } from 'node:fs/promises';
import {
  createRegistryServer,
  loadRegistryServeConfig,
  parseRegistryTokens,
  readTrustedKeys,
  type RegistryToken,
} from '../collector/index.ts';
import { flagsToOptions } from '../shared/config.ts';
import { EdgeloopError } from '../shared/errors.ts';
import type { CliIO } from './commands.ts';
import { nameOptionSource, optionSource } from './options.ts';
import type { Values } from './registry-client.ts';

export async function serve(values: Values, io: CliIO): Promise<number> {
  const scalar = Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]),
  );
  const rename = { 'trusted-key': 'trustedKeys' };
  let config: ReturnType<typeof loadRegistryServeConfig>;
  try {
    config = loadRegistryServeConfig(
      flagsToOptions(values as Record<string, string | boolean | undefined>, rename),
      io.env,
      typeof values.config === 'string' ? values.config : undefined,
    );
  } catch (err) {
    // Name the option as the user gave it (--port abc), not its config key.
    throw nameOptionSource(err, (key) => optionSource(key, scalar, rename, io.env, 'registry-serve'));
  }
  const keys = await readTrustedKeys(config.trustedKeys);
  if (!keys.ok) throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `trustedKeys: ${keys.message}`);
  let tokens: RegistryToken[] = [];
  if (config.tokensFile !== '') {
    let text: string;
    try {
      text = await readFile(config.tokensFile, 'utf8');
    } catch (err) {
      throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `tokensFile: ${(err as Error).message}`);
    }
    tokens = [...parseRegistryTokens(text, config.tokensFile)];
  } else if (io.env.EDGELOOP_REGISTRY_TOKEN !== undefined && io.env.EDGELOOP_REGISTRY_TOKEN !== '') {
    tokens = [{ token: io.env.EDGELOOP_REGISTRY_TOKEN, actor: 'admin' }];
  }
  if (tokens.length === 0)
    io.stderr.write('edgeloop registry serve: no tokens configured: every write will be refused (401)\n');
  const server = await createRegistryServer({
    dataDir: config.dataDir,
    tokens,
    readAuth: config.readAuth,
    trustedKeys: keys.value,
    port: config.port,
    host: config.host,
    maxBundleBytes: Math.floor(config.maxBundleMb * 1024 * 1024),
    timeouts: {
      requestTimeoutMs: config.requestTimeoutMs,
      headersTimeoutMs: config.headersTimeoutMs,
      connectionTimeoutMs: config.connectionTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    },
  });
  io.stdout.write(
    `registry listening on ${server.url}/api/v1 (data ${config.dataDir}, reads ${config.readAuth}, ${keys.value.length} trusted key(s))\n`,
  );
  await new Promise<void>((resolve) => {
    if (io.signal.aborted) resolve();
    else
      io.signal.addEventListener(
        'abort',
        () => {
          resolve();
        },
        { once: true },
      );
  });
  await server.close();
  return 0;
}
