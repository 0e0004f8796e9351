// The key the collector signs retrained models with (issue #10 §2 "Signing keys", docs/retraining.md):
// --signing-key names an operator's PEM private key; without it the collector makes its own Ed25519 pair
// once, in <data-dir>/keys/ (private 0600, public beside it), and keeps using it across restarts, so every
// agent that pinned the public key keeps accepting its models. Its own registry trusts it automatically:
// a model the collector trained must pass the same certification as any push.

import { createPublicKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKeyPair, keyIdFromPem } from '../../shared/bundle/signing.ts';
import { EdgeloopError } from '../../shared/errors.ts';

export const COLLECTOR_KEY_FILE = 'collector-signing.key';
export const COLLECTOR_PUB_FILE = 'collector-signing.pub';

export interface CollectorSigningKey {
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
  readonly keyId: string;
  /** Where the private key is, and whether this start created it. */
  readonly path: string;
  readonly created: boolean;
}

function publicOf(privateKeyPem: string, path: string): string {
  try {
    return createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
  } catch (err) {
    throw new EdgeloopError(
      'EDGELOOP_ERR_KEY_INVALID',
      `signingKey ${path}: not a PEM private key (${(err as Error).message})`,
    );
  }
}

/** Reads --signing-key, or the data directory's own key, creating that one on first use. */
export function loadCollectorSigningKey(dataDir: string, configured: string): CollectorSigningKey {
  if (configured !== '') {
    let pem: string;
    try {
      pem = readFileSync(configured, 'utf8');
    } catch (err) {
      throw new EdgeloopError(
        'EDGELOOP_ERR_CONFIG_INVALID',
        `signingKey: cannot read ${configured}: ${(err as Error).message}`,
      );
    }
    if (!pem.includes('PRIVATE KEY'))
      throw new EdgeloopError(
        'EDGELOOP_ERR_KEY_INVALID',
        `signingKey ${configured} is not a PEM private key`,
      );
    return {
      privateKeyPem: pem,
      publicKeyPem: publicOf(pem, configured),
      keyId: keyIdFromPem(pem),
      path: configured,
      created: false,
    };
  }
  const dir = join(dataDir, 'keys');
  const keyPath = join(dir, COLLECTOR_KEY_FILE);
  const pubPath = join(dir, COLLECTOR_PUB_FILE);
  if (existsSync(keyPath)) {
    const pem = readFileSync(keyPath, 'utf8');
    const pub = publicOf(pem, keyPath);
    // The public half is derived, so a deleted or edited .pub is simply written again.
    if (!existsSync(pubPath) || readFileSync(pubPath, 'utf8') !== pub)
      writeFileSync(pubPath, pub, { mode: 0o644 });
    return { privateKeyPem: pem, publicKeyPem: pub, keyId: keyIdFromPem(pem), path: keyPath, created: false };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pair = generateSigningKeyPair();
  writeFileSync(keyPath, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
  chmodSync(keyPath, 0o600);
  writeFileSync(pubPath, pair.publicKeyPem, { mode: 0o644 });
  return {
    privateKeyPem: pair.privateKeyPem,
    publicKeyPem: pair.publicKeyPem,
    keyId: pair.keyId,
    path: keyPath,
    created: true,
  };
}
