import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { TokenkeeperError } from '../errors.ts';
import { KEY_BYTES, parseKeySpec } from './parse-key-spec.ts';
import { formatSealed, IV_BYTES, KEY_ID_PATTERN, parseSealed, TAG_BYTES } from './sealed-value.ts';

const ALGORITHM = 'aes-256-gcm';

/**
 * The encryption keys, newest first: the first (primary) key seals, every key opens. Rotation is
 * "put a new key in front, run `tokenkeeper rotate-keys`, then drop the old key".
 *
 * Associated data binds each ciphertext to the place it is stored. Callers pass
 * `"<table>:<row id>:<column>"`, e.g. `connections:con_x:tokens`, so a sealed value copied into
 * another row or column (by a bug, or by someone with write access to the database) fails to open
 * instead of handing one user's tokens to another. AES-GCM authenticates the associated data
 * together with the ciphertext (NIST SP 800-38D §7), so no extra MAC is needed.
 *
 * Keys are held as `KeyObject`s in a private field: they never show up in `console.log`,
 * `util.inspect` or `JSON.stringify` of the ring.
 */
export class KeyRing {
  readonly primaryKeyId: string;
  readonly keyIds: string[];
  readonly #keys: Map<string, KeyObject>;

  private constructor(entries: { id: string; key: Buffer }[]) {
    this.#keys = new Map(entries.map((entry) => [entry.id, createSecretKey(entry.key)]));
    this.keyIds = Object.freeze(entries.map((entry) => entry.id)) as string[];
    this.primaryKeyId = entries[0]!.id;
    Object.freeze(this);
  }

  /**
   * Parses `"k2:<base64>,k1:<base64>"`. Each key is exactly 32 bytes written in base64 or
   * base64url; ids are 1-32 of `[A-Za-z0-9_-]` and unique. Throws an `Error` whose message says
   * what is wrong and never contains key material.
   */
  static parse(spec: string): KeyRing {
    return new KeyRing(parseKeySpec(spec));
  }

  /**
   * A fresh key spec entry, `"<id>:<base64 of 32 random bytes>"`. The default id is `k` plus the
   * UTC time (`k20250101T120000`), so ids sort by age and two keys made a second apart differ.
   */
  static generateKeySpec(id?: string): string {
    const keyId = id ?? `k${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`;
    if (!KEY_ID_PATTERN.test(keyId)) {
      throw new Error('a key id must be 1-32 characters of A-Z a-z 0-9 _ -');
    }
    return `${keyId}:${randomBytes(KEY_BYTES).toString('base64')}`;
  }

  /**
   * Encrypts with the primary key: AES-256-GCM, a random 96-bit IV per value (the size GCM is
   * specified for, NIST SP 800-38D §8.2.2), associated data bound as described on the class.
   */
  seal(plaintext: string, associatedData: string): string {
    requireAssociatedData(associatedData);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#keys.get(this.primaryKeyId)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return formatSealed({ keyId: this.primaryKeyId, iv, ciphertext, tag: cipher.getAuthTag() });
  }

  /**
   * Decrypts a value sealed by any key in the ring. Throws `TokenkeeperError('decryption_failed')`
   * when the value is malformed, names a key the ring does not hold, was tampered with, or was
   * sealed for other associated data (another row or column). The message says which, and never
   * contains the sealed value, the plaintext or key material.
   */
  open(sealed: string, associatedData: string): string {
    requireAssociatedData(associatedData);
    const parts = parseSealed(sealed);
    if (parts === null) {
      throw new TokenkeeperError('decryption_failed', 'A stored secret is not a well-formed encrypted value (expected v1.<key id>.<iv>.<ciphertext>.<tag>).', {
        details: { reason: 'malformed', associated_data: associatedData },
      });
    }
    const key = this.#keys.get(parts.keyId);
    if (key === undefined) {
      throw new TokenkeeperError(
        'decryption_failed',
        `A stored secret was encrypted with key "${parts.keyId}", which is not in TOKENKEEPER_ENCRYPTION_KEYS (configured: ${this.keyIds.join(', ')}). Add that key back to the list to read it.`,
        { details: { reason: 'unknown_key', key_id: parts.keyId, associated_data: associatedData } },
      );
    }
    try {
      const decipher = createDecipheriv(ALGORITHM, key, parts.iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(associatedData, 'utf8'));
      decipher.setAuthTag(parts.tag);
      return Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]).toString('utf8');
    } catch {
      // GCM cannot tell these apart, by design: all three fail the same authentication check.
      throw new TokenkeeperError(
        'decryption_failed',
        `A stored secret failed authentication under key "${parts.keyId}": it was modified, copied from another row or column (associated data "${associatedData}" does not match), or the key under that id changed.`,
        { details: { reason: 'authentication_failed', key_id: parts.keyId, associated_data: associatedData } },
      );
    }
  }

  /** The key id a sealed value names, or null when it is not a well-formed sealed value. */
  keyIdOf(sealed: string): string | null {
    return parseSealed(sealed)?.keyId ?? null;
  }

  /** True when the value is sealed under the primary key, i.e. `rotate-keys` can skip it. */
  isCurrent(sealed: string): boolean {
    return this.keyIdOf(sealed) === this.primaryKeyId;
  }

  /**
   * Re-encrypts a value under the primary key (what `rotate-keys` does to every stored secret).
   * A value already under the primary key is returned as is, which makes a rotation run
   * resumable: running it again only touches what is left.
   */
  reseal(sealed: string, associatedData: string): string {
    if (this.isCurrent(sealed)) return sealed;
    return this.seal(this.open(sealed, associatedData), associatedData);
  }

  toJSON(): { primaryKeyId: string; keyIds: string[] } {
    return { primaryKeyId: this.primaryKeyId, keyIds: this.keyIds };
  }

  [inspect.custom](): string {
    return `KeyRing { primaryKeyId: '${this.primaryKeyId}', keyIds: [${this.keyIds.map((id) => `'${id}'`).join(', ')}] }`;
  }
}

/**
 * Empty associated data would seal a value that opens anywhere, silently dropping the
 * row binding; that is a programming error, so it fails loudly at the call site.
 */
function requireAssociatedData(associatedData: string): void {
  if (typeof associatedData !== 'string' || associatedData === '') {
    throw new TypeError('associatedData is required: pass "<table>:<row id>:<column>", e.g. "connections:con_x:tokens"');
  }
}
