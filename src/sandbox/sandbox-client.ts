import type { ClientMetadata } from 'oidc-provider';

/** A client (relying party) registered at the sandbox. Fields keep their RFC 7591 spelling. */
export interface SandboxClient {
  client_id: string;
  /** Omit for a public client (then `token_endpoint_auth_method` defaults to `none`, PKCE required). */
  client_secret?: string;
  redirect_uris: string[];
  /**
   * Defaults to `client_secret_basic` with a secret, `none` without. A confidential client may
   * send its secret either way (Basic header or form body); oidc-provider accepts both.
   */
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'none';
  /**
   * Defaults to `authorization_code` and `refresh_token`, plus `client_credentials` for a
   * confidential client (for Tokenkeeper's app-level "system" tokens).
   */
  grant_types?: string[];
}

/**
 * The documented, fixed development credentials. They protect nothing: the sandbox is a local
 * development tool and these appear in the README, the CLI output and the sandbox's home page.
 */
export const SANDBOX_DEFAULT_CLIENT: { readonly client_id: 'tokenkeeper-dev'; readonly client_secret: string } = Object.freeze({
  client_id: 'tokenkeeper-dev',
  client_secret: 'tokenkeeper-dev-secret-not-for-production',
});

/** Tokenkeeper's default callback (`TOKENKEEPER_PUBLIC_URL` default + `/oauth/callback`). */
export const DEFAULT_REDIRECT_URIS: readonly string[] = Object.freeze([
  'http://localhost:3170/oauth/callback',
  'http://127.0.0.1:3170/oauth/callback',
]);

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function isLoopbackHttp(uri: string): boolean {
  const parsed = URL.parse(uri);
  return parsed !== null && parsed.protocol === 'http:' && LOOPBACK_HOSTS.has(parsed.hostname);
}

/**
 * Translates a SandboxClient into oidc-provider client metadata.
 *
 * A client whose redirect URIs are all plain-http loopback URIs is registered with
 * `application_type: native`, which makes oidc-provider match them on any port, as RFC 8252
 * §7.3 asks for loopback redirects. That is what lets the fixed dev client work with a
 * Tokenkeeper listening on whatever port a test or a developer picked.
 */
export function toClientMetadata(client: SandboxClient): ClientMetadata {
  const confidential = client.client_secret !== undefined && client.token_endpoint_auth_method !== 'none';
  const grantTypes = client.grant_types
    ?? (confidential ? ['authorization_code', 'refresh_token', 'client_credentials'] : ['authorization_code', 'refresh_token']);
  const metadata: ClientMetadata = {
    client_id: client.client_id,
    redirect_uris: [...client.redirect_uris],
    grant_types: [...grantTypes],
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: client.token_endpoint_auth_method ?? (confidential ? 'client_secret_basic' : 'none'),
    application_type: client.redirect_uris.length > 0 && client.redirect_uris.every(isLoopbackHttp) ? 'native' : 'web',
  };
  if (confidential) metadata.client_secret = client.client_secret;
  return metadata;
}
