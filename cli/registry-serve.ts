// `edgeloop registry serve`: validates the serve options, then runs the registry HTTP service until the
// CLI's abort signal fires (SIGINT/SIGTERM), and closes it.
import { readFile } from 'node:fs/promises';
import { readTrustedKeys } from '../collector/index.ts';
import { EdgeloopError } from '../shared/errors.ts';
import type { CliIO } from './commands.ts';
import { parseRegistryTokens, type RegistryToken } from '../collector/index.ts';
import { trustedKeyPaths, type Values } from './registry-client.ts';

export async function serve(values: Values, io: CliIO): Promise<number> {
  const dataDir = values['data-dir'];
  if (typeof dataDir !== 'string')
    throw new EdgeloopError('EDGELOOP_ERR_USAGE', 'serve needs --data-dir <dir>');
  const keyPaths = trustedKeyPaths(values);
  if (keyPaths.length === 0)
    throw new EdgeloopError('EDGELOOP_ERR_USAGE', 'serve needs at least one --trusted-key <pub.pem>');
  const keys = await readTrustedKeys(keyPaths);
  if (!keys.ok) throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', keys.message);
  let tokens: RegistryToken[] = [];
  if (typeof values['tokens-file'] === 'string') {
    let text: string;
    try {
      text = await readFile(values['tokens-file'], 'utf8');
    } catch (err) {
      throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `--tokens-file: ${(err as Error).message}`);
    }
    tokens = [...parseRegistryTokens(text, '--tokens-file')];
  } else if (io.env.EDGELOOP_REGISTRY_TOKEN !== undefined && io.env.EDGELOOP_REGISTRY_TOKEN !== '') {
    tokens = [{ token: io.env.EDGELOOP_REGISTRY_TOKEN, actor: 'admin' }];
  }
  if (tokens.length === 0)
    io.stderr.write('edgeloop registry serve: no tokens configured: every write will be refused (401)\n');
  const readAuth = values['read-auth'] ?? 'open';
  if (readAuth !== 'open' && readAuth !== 'token')
    throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', '--read-auth must be open or token');
  const port = Number(values.port ?? '8470');
  const maxMb = Number(values['max-bundle-mb'] ?? '256');
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', '--port must be 0..65535');
  if (!(maxMb > 0))
    throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', '--max-bundle-mb must be positive');
  // Loaded here, not at the top, so client subcommands never load onnxruntime or SQLite.
  const { createRegistryServer } = await import('../collector/index.ts');
  const server = await createRegistryServer({
    dataDir,
    tokens,
    readAuth,
    trustedKeys: keys.value,
    port,
    ...(typeof values.host === 'string' ? { host: values.host } : {}),
    maxBundleBytes: Math.floor(maxMb * 1024 * 1024),
  });
  io.stdout.write(
    `registry listening on ${server.url}/api/v1 (data ${dataDir}, reads ${readAuth}, ${keys.value.length} trusted key(s))\n`,
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
