import type { Clock } from '../clock.ts';
import type { IntegrationSettings, ProviderEntry } from '../providers/index.ts';

/** A token endpoint response, normalized. Never logged: it holds secrets. */
export interface TokenSet {
  accessToken: string;
  /**
   * The refresh token in the response, or null when it has none. A new one replaces the stored
   * one (RFC 6749 §6: the old one MUST then be discarded); none means the stored one stays valid
   * (`nextStoredTokens` in tokens/ applies that rule when storing).
   */
  refreshToken: string | null;
  idToken: string | null;
  /** `Bearer` (or `DPoP`), as it goes in the Authorization header. */
  tokenType: string;
  /**
   * Epoch ms. `expires_in` is relative to when the provider answered, which we cannot know; the
   * time the request was *sent* is a safe lower bound. Null: does not expire.
   */
  expiresAt: number | null;
  /** Granted scopes from the response's `scope` (RFC 6749 §5.1); null when the response has none. */
  scopes: string[] | null;
  /** Other response fields (for connection metadata); token-like string fields are removed. */
  extra: Record<string, unknown>;
}

export interface ProviderEndpoints {
  issuer: string | null;
  authorization: string;
  token: string;
  revocation: string | null;
  userinfo: string | null;
}

/**
 * An integration resolved against its catalog entry: endpoints known (discovered when the
 * provider uses discovery), settings applied to `provider`. `clientSecret` is non-enumerable so
 * it never lands in JSON or a log; oauth4webapi's objects are kept out of sight, in a WeakMap.
 */
export interface ProviderClient {
  integrationKey: string;
  /** The catalog entry with the integration's settings applied (separator, PKCE, lifetimes …). */
  provider: ProviderEntry;
  clientId: string;
  clientSecret: string | null;
  redirectUri: string;
  /** Scopes asked for in the authorization request (the integration's, or the provider's defaults). */
  scopes: string[];
  endpoints: ProviderEndpoints;
}

export interface ResolveOptions {
  /** Replaces global fetch for every request this client makes. */
  fetch?: typeof fetch;
  /** Default timeout for each provider request, in ms (10 s). A caller's AbortSignal can cut it shorter. */
  timeoutMs?: number;
  clock?: Clock;
}

/** What resolveProviderClient needs from an integration (the secret already decrypted). */
export interface IntegrationForClient {
  key: string;
  provider: string;
  clientId: string;
  clientSecret: string | null;
  scopes: string[];
  redirectUri: string;
  settings: IntegrationSettings;
}
