import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Provider, Token } from 'oidc-provider';
import { accountClaims } from './sandbox-account.ts';
import { sendJson } from './http-helpers.ts';

const REALM = 'tokenkeeper-sandbox';

/**
 * `GET /api/me`: a protected resource behind the sandbox's tokens, so a demo can show a token
 * actually working and a test can show it stops working after expiry or revocation.
 *
 * Tokens are looked up in the provider's own storage (they are opaque), so this API agrees
 * with the token endpoint by construction: a revoked grant or an expired token is simply gone.
 * Client-credentials ("system") tokens are accepted too; their subject is the client.
 */
export function createDemoApi(provider: Provider) {
  return async function handleDemoApi(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method_not_allowed', error_description: 'Use GET.' }, { allow: 'GET, HEAD' });
      return;
    }

    const value = bearerToken(req.headers.authorization);
    if (value === undefined) {
      // RFC 6750 §3.1: a request without credentials gets the challenge but no error code.
      sendJson(res, 401, { error: 'invalid_request', error_description: 'Send Authorization: Bearer <access token>.' }, {
        'www-authenticate': `Bearer realm="${REALM}"`,
      });
      return;
    }

    const found = await findToken(provider, value);
    if (!found) {
      // RFC 6750 §3.1 invalid_token: expired, revoked, malformed or unknown.
      sendJson(res, 401, { error: 'invalid_token', error_description: 'The access token is expired, revoked or unknown.' }, {
        'www-authenticate': `Bearer realm="${REALM}", error="invalid_token", error_description="The access token is expired, revoked or unknown"`,
      });
      return;
    }

    const { token, kind } = found;
    const scope = token.scope ?? '';
    if (kind === 'user' && token.accountId !== undefined) {
      const claims = accountClaims(token.accountId);
      sendJson(res, 200, { sub: claims.sub, email: claims.email, name: claims.name, scope, client_id: token.clientId });
    } else {
      sendJson(res, 200, { sub: token.clientId, email: null, name: null, scope, client_id: token.clientId });
    }
  };
}

/** RFC 6750 §2.1: `Authorization: Bearer <b64token>`; the scheme is case-insensitive. */
function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  return match?.[1];
}

async function findToken(provider: Provider, value: string): Promise<{ token: Token; kind: 'user' | 'client' } | undefined> {
  const accessToken = await provider.AccessToken.find(value);
  if (accessToken && !accessToken.isExpired) return { token: accessToken, kind: 'user' };
  const clientToken = await provider.ClientCredentials.find(value);
  if (clientToken && !clientToken.isExpired) return { token: clientToken, kind: 'client' };
  return undefined;
}
