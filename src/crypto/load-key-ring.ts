import { chmodSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TokenkeeperError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { KeyRing } from './key-ring.ts';
import { GENERATE_KEY_HINT } from './parse-key-spec.ts';

export interface LoadKeyRingOptions {
  /** `TOKENKEEPER_ENCRYPTION_KEYS` as configured, or null when unset. */
  spec: string | null;
  env: 'development' | 'production';
  /** Where the development key file lives (`<dataDir>/encryption.key`). */
  dataDir: string;
  logger: Logger;
  /**
   * When to warn that the generated development key is in use. `'every-load'` (the default):
   * the full warning each time, for a server start or an embedding application, whose operator
   * must not mistake the set-up for production. `'when-created'`: one line, and only when this
   * call created the key file, for short management commands (`keys list`), which would
   * otherwise repeat the same paragraph on every run.
   */
  developmentKeyWarning?: 'every-load' | 'when-created';
}

export const DEVELOPMENT_KEY_FILE = 'encryption.key';

/**
 * The key ring the process runs with.
 *
 * - `TOKENKEEPER_ENCRYPTION_KEYS` set: parse it.
 * - unset in production: refuse to start. A generated key next to the database protects nothing
 *   against someone who copies the data directory, and losing it loses every token.
 * - unset in development: read `<dataDir>/encryption.key`, generating it on first start, so a
 *   newcomer can run `npm start` with no set-up while tokens are still never stored in plaintext.
 *   A warning is logged on every start so nobody mistakes this for a production set-up (see
 *   `developmentKeyWarning`).
 */
export function loadKeyRing(options: LoadKeyRingOptions): KeyRing {
  if (options.spec !== null) {
    try {
      return KeyRing.parse(options.spec);
    } catch (error) {
      throw new TokenkeeperError('config_invalid', `TOKENKEEPER_ENCRYPTION_KEYS: ${(error as Error).message}`);
    }
  }
  if (options.env === 'production') {
    throw new TokenkeeperError(
      'config_invalid',
      `TOKENKEEPER_ENCRYPTION_KEYS is required in production (tokens and client secrets are encrypted with it); ${GENERATE_KEY_HINT}`,
    );
  }

  const path = join(options.dataDir, DEVELOPMENT_KEY_FILE);
  const { spec, generated, permissionsFixed } = readOrCreateDevelopmentKey(options.dataDir, path);
  let ring: KeyRing;
  try {
    ring = KeyRing.parse(spec);
  } catch (error) {
    // Never regenerate over a damaged file: values sealed with the old key would be lost for good.
    throw new TokenkeeperError(
      'config_invalid',
      `The development encryption key file ${path} is damaged (${(error as Error).message}). Restore it, or delete it together with the database to start over.`,
    );
  }
  if (options.developmentKeyWarning !== 'when-created') {
    options.logger.warn(
      `!!! Tokens are encrypted with a ${generated ? 'newly generated' : 'generated'} DEVELOPMENT key stored at ${path}. ` +
        'Anyone who can read that file can decrypt the stored tokens, and losing it loses them. ' +
        `Production needs TOKENKEEPER_ENCRYPTION_KEYS; ${GENERATE_KEY_HINT}. ` +
        `To keep existing data, list the new key first followed by the line in ${path}, then run \`npx tokenkeeper rotate-keys\`.`,
      { path, generated, key_id: ring.primaryKeyId },
    );
  } else if (generated) {
    options.logger.warn(
      `Generated a DEVELOPMENT encryption key in ${path} because TOKENKEEPER_ENCRYPTION_KEYS is unset; ` +
        'keep that file (losing it loses the stored tokens), and never use it in production.',
    );
  }
  if (permissionsFixed) {
    options.logger.warn(`${path} was readable by other users; its mode is now 0600 (owner only).`, { path });
  }
  return ring;
}

interface KeyFile {
  spec: string;
  generated: boolean;
  permissionsFixed: boolean;
}

function readOrCreateDevelopmentKey(dataDir: string, path: string): KeyFile {
  const existing = readKeyFile(path);
  if (existing !== null) return existing;

  mkdirSync(dataDir, { recursive: true });
  const body =
    '# Tokenkeeper development encryption key, generated because TOKENKEEPER_ENCRYPTION_KEYS is unset.\n' +
    '# Do not use in production. Deleting this file makes every stored token unreadable.\n' +
    `${KeyRing.generateKeySpec(`dev${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`)}\n`;
  // Two processes may start at once on a fresh data dir (e.g. `npm start` and a CLI command).
  // Write the key to a private temporary file and hard-link it into place: link() fails with
  // EEXIST if the other process won, and the file appears complete or not at all, so both end
  // up with the same key instead of one of them sealing values nobody can open later.
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temporary, body, { mode: 0o600, flag: 'wx' });
  chmodSync(temporary, 0o600); // in case the umask was stricter or the platform ignored `mode`
  try {
    linkSync(temporary, path);
    return { spec: extractSpec(body), generated: true, permissionsFixed: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readKeyFile(path)!;
  } finally {
    unlinkSync(temporary);
  }
}

function readKeyFile(path: string): KeyFile | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  // The key is as secret as the tokens it protects: keep it owner-only even if someone copied
  // the data dir with a permissive umask.
  let permissionsFixed = false;
  if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
    chmodSync(path, 0o600);
    permissionsFixed = true;
  }
  return { spec: extractSpec(text), generated: false, permissionsFixed };
}

/** The key spec is the file's non-comment lines (normally exactly one). */
function extractSpec(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .join(',');
}
