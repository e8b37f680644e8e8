/** Authorization requests built from catalog entries and integration settings. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildAuthorizationUrl, createPkce, resolveProviderClient } from '../src/oauth/index.ts';
import type { IntegrationSettings } from '../src/providers/index.ts';

function client(provider: string, settings: IntegrationSettings = {}, scopes: string[] = []) {
  return resolveProviderClient({
    key: `k-${provider}`, provider, clientId: 'client id', clientSecret: 'secret', scopes,
    redirectUri: 'https://app.example.com/oauth/callback', settings,
  });
}

describe('buildAuthorizationUrl', () => {
  it('Google: offline access with consent, PKCE, default scopes joined by spaces', async () => {
    const google = await client('google');
    const { challenge } = await createPkce();
    const url = buildAuthorizationUrl(google, { state: 'st', codeChallenge: challenge });
    assert.equal(url.origin + url.pathname, 'https://accounts.google.com/o/oauth2/v2/auth');
    assert.equal(url.searchParams.get('access_type'), 'offline');
    assert.equal(url.searchParams.get('prompt'), 'consent');
    assert.equal(url.searchParams.get('scope'), 'openid email profile');
    assert.equal(url.searchParams.get('client_id'), 'client id');
    assert.equal(url.searchParams.get('redirect_uri'), 'https://app.example.com/oauth/callback');
    assert.equal(url.searchParams.get('code_challenge'), challenge);
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
  });

  it('Microsoft: the tenant setting goes into the endpoints; common by default', async () => {
    assert.equal((await client('microsoft')).endpoints.token, 'https://login.microsoftonline.com/common/oauth2/v2.0/token');
    const contoso = await client('microsoft', { tenant: 'contoso.onmicrosoft.com' });
    assert.equal(contoso.endpoints.authorization, 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize');
    assert.equal(contoso.endpoints.revocation, null);
    assert.match(buildAuthorizationUrl(contoso, { state: 's' }).searchParams.get('scope')!, /offline_access/);
  });

  it('Slack: the integration scopes joined by commas; no PKCE, so no challenge', async () => {
    const slack = await client('slack', {}, ['chat:write', 'channels:read']);
    const url = buildAuthorizationUrl(slack, { state: 's', codeChallenge: 'ignored' });
    assert.equal(url.searchParams.get('scope'), 'chat:write,channels:read');
    assert.equal(url.searchParams.get('code_challenge'), null);
  });

  it('settings add parameters and can switch PKCE off; explicit scopes win; no scope when none', async () => {
    const custom = await client('custom', {
      authorizationEndpoint: 'https://id.example.com/authorize?tenant=acme',
      tokenEndpoint: 'https://id.example.com/token',
      authorizationParams: { audience: 'https://api.example.com' },
      pkce: false,
    });
    const url = buildAuthorizationUrl(custom, { state: 's', codeChallenge: 'c', extraParams: { login_hint: 'a@example.com' } });
    assert.equal(url.searchParams.get('tenant'), 'acme', 'query already on the endpoint stays');
    assert.equal(url.searchParams.get('audience'), 'https://api.example.com');
    assert.equal(url.searchParams.get('login_hint'), 'a@example.com');
    assert.equal(url.searchParams.get('scope'), null);
    assert.equal(url.searchParams.get('code_challenge'), null);
    assert.equal(buildAuthorizationUrl(custom, { state: 's', scopes: ['x', 'y'] }).searchParams.get('scope'), 'x y');
  });

  it('extra parameters cannot replace protocol parameters', async () => {
    const google = await client('google');
    assert.throws(() => buildAuthorizationUrl(google, { state: 's', extraParams: { redirect_uri: 'https://evil.example' } }), TypeError);
  });

  it('settings override the catalog per integration without changing the catalog', async () => {
    const tuned = await client('google', { authorizationParams: { prompt: 'select_account' }, scopeSeparator: ',' }, ['a', 'b']);
    const url = buildAuthorizationUrl(tuned, { state: 's' });
    assert.equal(url.searchParams.get('prompt'), 'select_account');
    assert.equal(url.searchParams.get('scope'), 'a,b');
    const plain = buildAuthorizationUrl(await client('google'), { state: 's' });
    assert.equal(plain.searchParams.get('prompt'), 'consent');
  });

  it('each PKCE pair is fresh and the challenge is the S256 of the verifier (RFC 7636 §4.2)', async () => {
    const { createHash } = await import('node:crypto');
    const a = await createPkce();
    const b = await createPkce();
    assert.notEqual(a.verifier, b.verifier);
    assert.equal(a.challenge, createHash('sha256').update(a.verifier).digest('base64url'));
  });
});
