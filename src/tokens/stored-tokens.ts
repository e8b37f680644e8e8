import type { KeyRing } from '../crypto/index.ts';
import type { TokenSet } from '../oauth/index.ts';
import type { ConnectionRecord } from '../store/index.ts';

/** The decrypted secrets of a connection, as sealed in `connections.tokens_sealed`. */
export interface StoredTokens {
  access_token: string;
  refresh_token: string | null;
  id_token: string | null;
}

/**
 * What a connection stores after a token response, given what it stored before. The one place
 * of invariant 3's rule: a response without `refresh_token` keeps the old one (RFC 6749 §6: the
 * server MAY issue a new one; Google's refreshes and reconnects without `prompt=consent` omit it),
 * and a new one replaces it (the client MUST then discard the old one).
 */
export function nextStoredTokens(previous: StoredTokens | null, response: TokenSet): StoredTokens {
  return {
    access_token: response.accessToken,
    refresh_token: response.refreshToken ?? previous?.refresh_token ?? null,
    id_token: response.idToken ?? previous?.id_token ?? null,
  };
}

/**
 * Seals token sets to their row: the associated data `connections:<id>:tokens` makes a
 * ciphertext copied to another row fail to open (invariant 1: never plaintext at rest).
 */
export class TokenSealer {
  private readonly keyRing: KeyRing;

  constructor(keyRing: KeyRing) {
    this.keyRing = keyRing;
  }

  seal(connectionId: string, tokens: StoredTokens): string {
    return this.keyRing.seal(JSON.stringify(tokens), `connections:${connectionId}:tokens`);
  }

  open(record: ConnectionRecord): StoredTokens | null {
    return record.tokensSealed ? (JSON.parse(this.keyRing.open(record.tokensSealed, `connections:${record.id}:tokens`)) as StoredTokens) : null;
  }
}
