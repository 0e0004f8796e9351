// `edgeloop keygen`: makes the Ed25519 key pair that signs model bundles (docs/model-bundle.md,
// "Keys"). The private key is written with mode 0600 and never overwritten by accident: losing a signing
// key to a typo would orphan every bundle signed with it.

import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { boolOption, parseCliArgs } from '../shared/config.ts';
import { EdgeloopError } from '../shared/errors.ts';
import { generateSigningKeyPair } from '../shared/bundle/signing.ts';
import type { Command, CliIO } from './commands.ts';
import { classifyUnexpected, exitCodeFor } from './errors.ts';
import { loadCommandConfig } from './options.ts';

/** keygen's options: flag, EDGELOOP_* variable and --config key (STYLE.md habit 8). */
export const keygenDefaults = {
  /** Directory for the key files (created if absent). Required. */
  out: '',
  /** File name stem: <name>.key and <name>.pub. */
  name: 'edgeloop-signing',
  /** Overwrite existing key files. */
  force: false,
};

const nameExpected =
  'must be a plain file name stem: expected letters, digits, . _ - (not starting with .), no directory';

const schema = z
  .object({
    out: z.string(),
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, nameExpected)
      .refine((n) => !n.startsWith('.'), nameExpected),
    force: boolOption,
  })
  .strict();

const help = `edgeloop keygen: make an Ed25519 key pair for signing model bundles

Usage: edgeloop keygen --out <dir> [--name <name>] [--force]

Options (each also a --config file key and an EDGELOOP_* variable; flag > variable > file > default):
  --out <dir>      [out, EDGELOOP_OUT] directory for the key files (created if absent). Required.
  --name <name>    [name, EDGELOOP_NAME] file name stem: writes <name>.key (private, PEM PKCS#8,
                   mode 0600) and <name>.pub (public, PEM SPKI). Default: edgeloop-signing.
  --force          [force, EDGELOOP_FORCE] overwrite existing key files. Default: false (refuse).
  --config <file>  JSON file of the keys above.
  -h, --help       show this help.

Prints the key id (first 16 hex digits of SHA-256 over the public key, DER SPKI), which
manifest.sig names. Give <name>.pub to agents and the registry as a trusted key; keep
<name>.key secret.
`;

const options = {
  out: { type: 'string' },
  name: { type: 'string' },
  force: { type: 'boolean' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function run(argv: string[], io: CliIO): Promise<number> {
  try {
    const { values } = parseCliArgs(argv, options, false);
    if (values.help === true) {
      io.stdout.write(help);
      return 0;
    }
    const cfg = loadCommandConfig(
      {
        command: 'keygen',
        defaults: keygenDefaults,
        schema,
        env: io.env,
        configFile: typeof values.config === 'string' ? values.config : undefined,
      },
      values,
    );
    const { out, name } = cfg;
    if (out === '') throw new EdgeloopError('EDGELOOP_ERR_USAGE', 'keygen needs --out <dir>');
    const keyPath = join(out, `${name}.key`);
    const pubPath = join(out, `${name}.pub`);
    const force = cfg.force;
    if (!force) {
      for (const p of [keyPath, pubPath]) {
        if (await exists(p)) throw new EdgeloopError('EDGELOOP_ERR_KEY_EXISTS', `${p} exists`);
      }
    }
    const pair = generateSigningKeyPair();
    await mkdir(out, { recursive: true });
    // 'wx' guards the race between the check above and the write; with --force we truncate, then
    // re-apply 0600 because writeFile's mode only applies when the file is created.
    const flag = force ? 'w' : 'wx';
    await writeFile(keyPath, pair.privateKeyPem, { mode: 0o600, flag });
    if (force) await chmod(keyPath, 0o600);
    await writeFile(pubPath, pair.publicKeyPem, { mode: 0o644, flag });
    io.stdout.write(
      `keyId ${pair.keyId}\nprivate key ${keyPath} (keep secret)\npublic key  ${pubPath} (pin on agents and the registry)\n`,
    );
    return 0;
  } catch (err) {
    if (err instanceof EdgeloopError) {
      io.stderr.write(`edgeloop keygen: ${err.message} [${err.code}]\n`);
      return exitCodeFor(err.code);
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EEXIST') {
      io.stderr.write(`edgeloop keygen: cannot write keys: ${e.message} [EDGELOOP_ERR_KEY_EXISTS]\n`);
      return 1;
    }
    const u = classifyUnexpected(err);
    // A missing or unwritable directory is the user's to fix: one coded line. Anything else is a bug,
    // which the dispatcher reports (with the stack under --debug).
    if (u.kind !== 'known') throw err;
    io.stderr.write(`edgeloop keygen: cannot write keys: ${u.message} [${u.code}]\n`);
    return exitCodeFor(u.code);
  }
}

export const keygenCommand: Command = {
  summary: 'make a signing key pair',
  help,
  run,
};
