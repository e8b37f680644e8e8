import { KEY_ID_PATTERN } from './sealed-value.ts';

export interface KeySpecEntry {
  id: string;
  key: Buffer;
}

/** AES-256 needs exactly 256 bits of key. */
export const KEY_BYTES = 32;

export const GENERATE_KEY_HINT =
  'generate one with `npx tokenkeeper keys generate-encryption-key` or ' +
  '`node -e "console.log(\'k1:\' + require(\'node:crypto\').randomBytes(32).toString(\'base64\'))"`';

const BASE64_OR_BASE64URL = /^(?:[A-Za-z0-9+/]+|[A-Za-z0-9_-]+)={0,2}$/;

/**
 * Parses `"k2:<base64>,k1:<base64>"` into entries, first one first.
 *
 * Every message names the entry by position or id and never includes any part of a key: these
 * errors are printed at start-up and end up in deployment logs.
 */
export function parseKeySpec(spec: string): KeySpecEntry[] {
  if (typeof spec !== 'string' || spec.trim() === '') {
    throw new Error(`the key list is empty; expected "<id>:<base64 key>[,<id>:<base64 key>…]" — ${GENERATE_KEY_HINT}`);
  }
  const entries: KeySpecEntry[] = [];
  const seen = new Set<string>();
  const rawEntries = spec.split(',');
  rawEntries.forEach((rawEntry, index) => {
    const position = `entry ${index + 1} of ${rawEntries.length}`;
    const entry = rawEntry.trim();
    if (entry === '') {
      throw new Error(`${position} is empty (a stray comma?); expected "<id>:<base64 key>"`);
    }
    const colon = entry.indexOf(':');
    if (colon === -1) {
      throw new Error(`${position} has no key id; expected "<id>:<base64 key>", e.g. "k1:<base64 key>"`);
    }
    const id = entry.slice(0, colon).trim();
    const encoded = entry.slice(colon + 1).trim();
    if (!KEY_ID_PATTERN.test(id)) {
      throw new Error(`${position}: the key id must be 1-32 characters of A-Z a-z 0-9 _ - (it is the part before ":")`);
    }
    if (seen.has(id)) {
      throw new Error(`key id "${id}" appears more than once; every key needs its own id`);
    }
    seen.add(id);
    if (encoded === '') {
      throw new Error(`key "${id}" has no key after ":"; ${GENERATE_KEY_HINT}`);
    }
    if (!BASE64_OR_BASE64URL.test(encoded)) {
      throw new Error(`key "${id}" is not valid base64 or base64url; ${GENERATE_KEY_HINT}`);
    }
    const key = Buffer.from(encoded, encoded.includes('-') || encoded.includes('_') ? 'base64url' : 'base64');
    if (key.length !== KEY_BYTES) {
      const hexHint = /^[0-9a-fA-F]{64}$/.test(encoded) ? ' (it looks like hex; keys are written in base64)' : '';
      throw new Error(
        `key "${id}" decodes to ${key.length} bytes but AES-256 needs exactly ${KEY_BYTES}${hexHint}; ${GENERATE_KEY_HINT}`,
      );
    }
    entries.push({ id, key });
  });
  return entries;
}
