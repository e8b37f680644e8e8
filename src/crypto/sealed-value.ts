/**
 * The self-describing text format of an encrypted value:
 *
 *     v1.<key id>.<iv>.<ciphertext>.<tag>
 *
 * `v1` is the format (AES-256-GCM, 96-bit IV, 128-bit tag); the key id names the key in the ring
 * that sealed it, so a ring with several keys knows which one opens it and `rotate-keys` knows
 * which values are not yet under the newest key. IV, ciphertext and tag are base64url without
 * padding. Key ids are `[A-Za-z0-9_-]`, so `.` never occurs inside a field.
 */
export const SEALED_VERSION = 'v1';

export interface SealedParts {
  keyId: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;

export function formatSealed(parts: SealedParts): string {
  return [
    SEALED_VERSION,
    parts.keyId,
    parts.iv.toString('base64url'),
    parts.ciphertext.toString('base64url'),
    parts.tag.toString('base64url'),
  ].join('.');
}

/** Splits a sealed value into its parts, or returns null if it is not a well-formed v1 value. */
export function parseSealed(sealed: string): SealedParts | null {
  if (typeof sealed !== 'string') return null;
  const fields = sealed.split('.');
  if (fields.length !== 5) return null;
  const [version, keyId, iv, ciphertext, tag] = fields as [string, string, string, string, string];
  if (version !== SEALED_VERSION || !KEY_ID_PATTERN.test(keyId)) return null;
  if (!BASE64URL.test(iv) || !BASE64URL.test(ciphertext) || !BASE64URL.test(tag)) return null;
  const parts = {
    keyId,
    iv: Buffer.from(iv, 'base64url'),
    ciphertext: Buffer.from(ciphertext, 'base64url'),
    tag: Buffer.from(tag, 'base64url'),
  };
  if (parts.iv.length !== IV_BYTES || parts.tag.length !== TAG_BYTES) return null;
  return parts;
}
