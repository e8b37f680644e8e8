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

/**
 * What storing a fresh token set does to a row — a refresh, a first connect, a reconnect, an
 * import: the new tokens and their lifetime, and a clean bill of health (failures, cooldown, the
 * unanswered-request mark and the last error cleared).
 */
export function freshTokenPatch(input: {
  sealedTokens: string;
  response: TokenSet;
  /** Scopes to keep when the response names none (RFC 6749 §5.1: then they are as requested). */
  scopesWhenOmitted: string[] | null;
  /** When the request was sent (the lifetime counts from then); null when unknown (imports). */
  issuedAt: number | null;
  now: number;
}) {
  return {
    tokensSealed: input.sealedTokens,
    tokenType: input.response.tokenType,
    scopes: input.response.scopes ?? input.scopesWhenOmitted,
    expiresAt: input.response.expiresAt,
    issuedAt: input.issuedAt,
    lastRefreshAt: input.issuedAt ?? input.now,
    status: 'active' as const,
    statusReason: null,
    failureCount: 0,
    nextAttemptAt: null,
    unansweredRefreshAt: null,
    lastErrorCode: null,
    lastErrorMessage: null,
    updatedAt: input.now,
  };
}
