import { randomBytes } from 'node:crypto';

/**
 * Ids are a short type prefix and 20 random base32 characters (100 bits): unguessable, safe in
 * URLs, and recognisable in logs (`con_…` is a connection, `int_…` an integration).
 */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

export type IdPrefix = 'con' | 'int' | 'cs' | 'key' | 'evt' | 'alr' | 'sil' | 'ntf' | 'whk' | 'dlv';

export function newId(prefix: IdPrefix): string {
  const bytes = randomBytes(20);
  let out = '';
  for (let i = 0; i < 20; i++) out += ALPHABET[bytes[i]! & 31];
  return `${prefix}_${out}`;
}

const ID_PATTERN = /^(con|int|cs|key|evt|alr|sil|ntf|whk|dlv)_[a-z2-7]{20}$/;

export function isId(value: unknown, prefix: IdPrefix): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value) && value.startsWith(`${prefix}_`);
}

/** A random URL-safe secret (for state, connect links, API keys). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
