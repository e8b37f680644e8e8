import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getProvider, isLoopbackHost, listProviders, validateIntegrationSettings } from '../src/providers/index.ts';

const EXPECTED_KEYS = ['google', 'microsoft', 'github', 'github-app', 'slack', 'spotify', 'discord', 'linkedin', 'salesforce', 'oidc', 'custom', 'sandbox'];

function isHttpsUrl(value: string): boolean {
  return new URL(value.replaceAll('{tenant}', 'common')).protocol === 'https:';
}

describe('provider catalog', () => {
  it('has every provider of the issue, each once', () => {
    const keys = listProviders().map((entry) => entry.key);
    assert.deepEqual([...keys].sort(), [...EXPECTED_KEYS].sort());
    assert.equal(new Set(keys).size, keys.length);
  });

  for (const entry of listProviders()) {
    describe(entry.key, () => {
      it('is complete: name, docs link, endpoints or discovery', () => {
        assert.ok(entry.displayName.length > 0);
        assert.ok(isHttpsUrl(entry.docsUrl), `docsUrl ${entry.docsUrl}`);
        if (entry.discovery) {
          assert.ok(entry.issuer !== undefined || entry.requiredSettings.includes('issuer'), 'discovery needs a fixed issuer or an issuer setting');
        } else if (entry.key === 'custom') {
          assert.deepEqual([...entry.requiredSettings].sort(), ['authorizationEndpoint', 'tokenEndpoint']);
        } else {
          assert.ok(entry.authorizationEndpoint && isHttpsUrl(entry.authorizationEndpoint), 'authorizationEndpoint');
          assert.ok(entry.tokenEndpoint && isHttpsUrl(entry.tokenEndpoint), 'tokenEndpoint');
        }
        for (const url of [entry.issuer, entry.revocationEndpoint, entry.userinfoEndpoint]) {
          if (url !== undefined) assert.ok(isHttpsUrl(url), url);
        }
      });

      it('has consistent refresh, lifetime and limit data', () => {
        assert.ok(entry.scopeSeparator === ' ' || entry.scopeSeparator === ',');
        assert.ok(entry.clientAuth === 'client_secret_basic' || entry.clientAuth === 'client_secret_post');
        assert.ok(['always', 'optional', 'never'].includes(entry.refresh.rotation));
        assert.ok(entry.refresh.maxIdleDays === null || entry.refresh.maxIdleDays > 0);
        assert.ok(entry.defaultAccessTokenLifetimeSeconds === null || entry.defaultAccessTokenLifetimeSeconds > 0);
        assert.ok(entry.rateLimit.requestsPerMinute > 0 && entry.rateLimit.concurrency > 0);
        for (const scope of entry.defaultScopes) assert.doesNotMatch(scope, /[\s,]/);
        for (const value of Object.values(entry.authorizationParams)) assert.equal(typeof value, 'string');
      });

      it('is frozen, so no integration can change it for all', () => {
        assert.ok(Object.isFrozen(entry));
        assert.ok(Object.isFrozen(entry.refresh));
        assert.throws(() => {
          (entry.defaultScopes as string[]).push('x');
        }, TypeError);
      });

      it('accepts empty settings exactly when it requires none', () => {
        const result = validateIntegrationSettings(entry.key, {});
        assert.equal(result.ok, entry.requiredSettings.length === 0, JSON.stringify(result));
      });
    });
  }

  it('states the documented provider facts', () => {
    assert.deepEqual(getProvider('google')!.authorizationParams, { access_type: 'offline', prompt: 'consent' });
    assert.equal(getProvider('google')!.refresh.maxIdleDays, 180);
    assert.ok(getProvider('google')!.quirks.permanentErrors!.includes('invalid_rapt'));
    assert.ok(getProvider('microsoft')!.defaultScopes.includes('offline_access'));
    assert.equal(getProvider('github')!.refresh.supported, false);
    assert.equal(getProvider('github')!.defaultAccessTokenLifetimeSeconds, null);
    assert.equal(getProvider('github-app')!.refresh.rotation, 'always');
    assert.equal(getProvider('github-app')!.quirks.tokenRequestHeaders!.accept, 'application/json');
    assert.equal(getProvider('slack')!.scopeSeparator, ',');
    assert.ok(getProvider('slack')!.quirks.permanentErrors!.includes('invalid_refresh_token'));
    assert.ok(getProvider('salesforce')!.quirks.metadataFields!.includes('instance_url'));
    assert.ok(getProvider('salesforce')!.defaultAccessTokenLifetimeSeconds! > 0);
    assert.equal(getProvider('oidc')!.discovery, true);
    assert.equal(getProvider('sandbox')!.discovery, true);
  });

  it('returns undefined for unknown providers', () => {
    assert.equal(getProvider('nope'), undefined);
    assert.equal(getProvider('__proto__'), undefined);
  });

  it('GitHub turns HTTP 200 + error into an error status; successes pass', () => {
    const quirk = getProvider('github')!.quirks.normalizeTokenResponse!;
    assert.equal(quirk(200, { error: 'bad_refresh_token' }).status, 400);
    assert.equal(quirk(200, { access_token: 'a', token_type: 'bearer' }).status, 200);
  });

  it('Slack turns ok:false into an error, lifts a user-only token, reads team and user', () => {
    const slack = getProvider('slack')!;
    const failed = slack.quirks.normalizeTokenResponse!(200, { ok: false, error: 'invalid_refresh_token' });
    assert.equal(failed.status, 400);
    assert.equal((failed.body as { error: string }).error, 'invalid_refresh_token');
    assert.equal(slack.quirks.normalizeTokenResponse!(200, { ok: false, error: 'ratelimited' }).status, 429);
    const lifted = slack.quirks.normalizeTokenResponse!(200, {
      ok: true,
      authed_user: { id: 'U1', access_token: 'xoxe.xoxp-1', refresh_token: 'xoxe-1-r', expires_in: 43200, token_type: 'user', scope: 'a,b' },
      team: { id: 'T1', name: 'Acme' },
    });
    assert.deepEqual(
      { ...(lifted.body as Record<string, unknown>), authed_user: undefined, team: undefined },
      { ok: true, access_token: 'xoxe.xoxp-1', refresh_token: 'xoxe-1-r', expires_in: 43200, token_type: 'bearer', scope: 'a,b', authed_user: undefined, team: undefined },
    );
    assert.deepEqual(slack.quirks.accountFromTokenResponse!({ team: { id: 'T1', name: 'Acme' }, authed_user: { id: 'U1' } }), {
      accountId: 'T1:U1',
      label: 'Acme',
    });
    assert.equal(slack.quirks.accountFromTokenResponse!({}), null);
  });

  it('Microsoft expects the per-tenant issuer of the ID token', () => {
    const quirk = getProvider('microsoft')!.quirks.idTokenIssuer!;
    assert.equal(quirk({ tid: '9188040d-6c67-4c5b-b112-36a304b66dad' }), 'https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0');
    assert.equal(quirk({ tid: '../evil' }), null);
  });
});

describe('validateIntegrationSettings', () => {
  const invalid = (provider: string, settings: unknown): string[] => {
    const result = validateIntegrationSettings(provider, settings);
    assert.equal(result.ok, false, `expected ${JSON.stringify(settings)} to be rejected`);
    return result.ok ? [] : result.problems;
  };

  it('accepts valid settings and returns only known fields', () => {
    const result = validateIntegrationSettings('custom', {
      authorizationEndpoint: 'https://auth.example.com/authorize',
      tokenEndpoint: 'https://auth.example.com/token',
      revocationEndpoint: 'https://auth.example.com/revoke',
      scopeSeparator: ',',
      clientAuth: 'client_secret_post',
      pkce: false,
      defaultAccessTokenLifetimeSeconds: 3600,
      authorizationParams: { audience: 'api' },
    });
    assert.deepEqual(result, {
      ok: true,
      settings: {
        authorizationEndpoint: 'https://auth.example.com/authorize',
        tokenEndpoint: 'https://auth.example.com/token',
        revocationEndpoint: 'https://auth.example.com/revoke',
        scopeSeparator: ',',
        clientAuth: 'client_secret_post',
        pkce: false,
        defaultAccessTokenLifetimeSeconds: 3600,
        authorizationParams: { audience: 'api' },
      },
    });
  });

  it('treats missing settings as empty', () => {
    assert.deepEqual(validateIntegrationSettings('google', undefined), { ok: true, settings: {} });
    assert.deepEqual(validateIntegrationSettings('google', null), { ok: true, settings: {} });
  });

  it('enforces required settings', () => {
    assert.deepEqual(invalid('oidc', {}), ['issuer is required for the oidc provider']);
    assert.deepEqual(invalid('custom', { tokenEndpoint: 'https://a.example/token' }), ['authorizationEndpoint is required for the custom provider']);
    assert.equal(invalid('sandbox', {}).length, 1);
    assert.deepEqual(validateIntegrationSettings('oidc', { issuer: 'https://id.example.com' }), { ok: true, settings: { issuer: 'https://id.example.com' } });
  });

  it('rejects unknown providers, non-objects and unknown keys', () => {
    assert.deepEqual(invalid('nope', {}), ['unknown provider "nope"']);
    assert.deepEqual(invalid('google', 'x'), ['settings must be a JSON object']);
    assert.deepEqual(invalid('google', []), ['settings must be a JSON object']);
    assert.deepEqual(invalid('google', { tokenUrl: 'https://x.example' }), ['unknown setting "tokenUrl"']);
  });

  it('rejects non-URL, non-https and fragment endpoints; allows http only on loopback', () => {
    assert.equal(invalid('custom', { authorizationEndpoint: 'not a url', tokenEndpoint: 'https://a.example/t' }).length, 1);
    assert.equal(invalid('custom', { authorizationEndpoint: 'http://a.example/auth', tokenEndpoint: 'https://a.example/t' }).length, 1);
    assert.equal(invalid('custom', { authorizationEndpoint: 'ftp://a.example/auth', tokenEndpoint: 'https://a.example/t' }).length, 1);
    assert.equal(invalid('custom', { authorizationEndpoint: 'https://a.example/auth#x', tokenEndpoint: 'https://a.example/t' }).length, 1);
    assert.equal(invalid('oidc', { issuer: 'https://id.example.com?tenant=1' }).length, 1);
    assert.equal(invalid('oidc', { issuer: 42 }).length, 1);
    for (const host of ['127.0.0.1:4000', '127.9.9.9', 'localhost:1', '[::1]:8080']) {
      assert.equal(validateIntegrationSettings('oidc', { issuer: `http://${host}` }).ok, true, host);
    }
    for (const host of ['10.0.0.1', '128.0.0.1', 'localhost.example.com', '[::2]', 'foo.localhost']) {
      assert.equal(validateIntegrationSettings('oidc', { issuer: `http://${host}` }).ok, false, host);
    }
  });

  it('checks types of every field', () => {
    assert.deepEqual(invalid('google', { scopeSeparator: ';' }), ['scopeSeparator must be " " or ","']);
    assert.deepEqual(invalid('google', { clientAuth: 'private_key_jwt' }), ['clientAuth must be "client_secret_basic" or "client_secret_post"']);
    assert.deepEqual(invalid('google', { pkce: 'yes' }), ['pkce must be true or false']);
    assert.equal(invalid('google', { defaultAccessTokenLifetimeSeconds: -5 }).length, 1);
    assert.equal(invalid('google', { defaultAccessTokenLifetimeSeconds: 1.5 }).length, 1);
    assert.equal(invalid('google', { defaultAccessTokenLifetimeSeconds: 3_600_000_000 }).length, 1);
    assert.deepEqual(validateIntegrationSettings('salesforce', { defaultAccessTokenLifetimeSeconds: null }), { ok: true, settings: { defaultAccessTokenLifetimeSeconds: null } });
    assert.deepEqual(invalid('google', { authorizationParams: { hd: 1 } }), ['authorizationParams.hd must be a string']);
    assert.deepEqual(invalid('google', { authorizationParams: 'hd=x' }), ['authorizationParams must be an object of string values']);
  });

  it('refuses to let settings override protocol parameters', () => {
    assert.deepEqual(invalid('google', { authorizationParams: { state: 'fixed' } }), [
      'authorizationParams.state is set by Tokenkeeper and cannot be overridden',
    ]);
    assert.equal(invalid('google', { authorizationParams: { redirect_uri: 'https://evil.example' } }).length, 1);
  });

  it('accepts a Microsoft tenant, only for Microsoft', () => {
    for (const tenant of ['common', 'organizations', 'consumers', 'contoso.onmicrosoft.com', '72f988bf-86f1-41af-91ab-2d7cd011db47']) {
      assert.deepEqual(validateIntegrationSettings('microsoft', { tenant }), { ok: true, settings: { tenant } });
    }
    assert.equal(invalid('microsoft', { tenant: '../common' }).length, 1);
    assert.equal(invalid('microsoft', { tenant: 7 }).length, 1);
    assert.deepEqual(invalid('google', { tenant: 'common' }), ['tenant only applies to the microsoft provider']);
  });

  it('reports every problem at once', () => {
    assert.equal(invalid('custom', { pkce: 1, scopeSeparator: '|', extra: true }).length, 5);
  });
});

describe('isLoopbackHost', () => {
  it('knows what only reaches this machine', () => {
    assert.equal(isLoopbackHost('127.0.0.1'), true);
    assert.equal(isLoopbackHost('localhost'), true);
    assert.equal(isLoopbackHost('[::1]'), true);
    assert.equal(isLoopbackHost('::1'), true);
    assert.equal(isLoopbackHost('127.evil.com'), false);
    assert.equal(isLoopbackHost('0.0.0.0'), false);
  });
});
