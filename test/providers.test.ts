import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { getProvider, isLoopbackHost, listProviders, RATE_LIMIT_BOUNDS, validateIntegrationSettings } from '../src/providers/index.ts';

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
        for (const [field, value] of Object.entries(entry.rateLimit)) {
          const { min, max } = RATE_LIMIT_BOUNDS[field as keyof typeof RATE_LIMIT_BOUNDS];
          assert.ok(Number.isSafeInteger(value) && value >= min && value <= max, `rateLimit.${field} ${value}: a setting could not say it`);
        }
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

  it("sizes every default rate limit for the application's proxied calls, not only its token requests", () => {
    // The limit holds every proxied call and action of the whole app (all its users, workspaces,
    // tenants). Slack's old 100/min and 5 at once held an app to 1.7 calls/s: one workspace's tier.
    for (const entry of listProviders()) {
      assert.ok(entry.rateLimit.requestsPerMinute >= 600, `${entry.key}: ${entry.rateLimit.requestsPerMinute}/min is under 10 calls/s app-wide`);
      assert.ok(entry.rateLimit.concurrency >= 20, `${entry.key}: ${entry.rateLimit.concurrency} at once (a permit is held while the provider answers)`);
    }
    const perSecondOf = (key: string): number => {
      const { requestsPerMinute, requestsPerSecond } = getProvider(key)!.rateLimit;
      return Math.min(requestsPerMinute / 60, requestsPerSecond ?? Infinity);
    };
    // Under the documented app-wide limits, margin included: a minute's bucket may send 7/6 of
    // its rate within one minute, a per-second one 1.05 times its rate within one second.
    assert.ok((getProvider('google')!.rateLimit.requestsPerMinute * 7) / 6 < 10_000, 'Calendar API: 10,000 requests/min per project');
    assert.ok(perSecondOf('microsoft') * 10 * 1.05 < 130_000, 'Graph: 130,000 requests per 10 s per app');
    assert.ok(perSecondOf('discord') * 1.05 < 50, 'Discord: 50 requests/s');
    assert.equal(getProvider('discord')!.rateLimit.requestsPerSecond !== undefined, true, 'Discord counts per second: paced');
    for (const key of ['github', 'github-app']) assert.ok(getProvider(key)!.rateLimit.concurrency < 100, 'GitHub: at most 100 concurrent requests');
  });

  it('docs/providers.md lists each default rate limit as the catalog has it', () => {
    const doc = readFileSync(new URL('../docs/providers.md', import.meta.url), 'utf8');
    const listed = new Map<string, string>();
    // Rows of the defaults table: `key`[, `key`] | requests/min | requests/s | concurrency | …
    for (const match of doc.matchAll(/^\| ((?:`[a-z-]+`(?:, )?)+) \| ([\d,]+) \| ([\d,]+|—) \| ([\d,]+) \|/gm)) {
      for (const key of match[1]!.match(/[a-z-]+/g)!) listed.set(key, `${match[2]} ${match[3]} ${match[4]}`);
    }
    const figure = (value: number | undefined): string => (value === undefined ? '—' : value.toLocaleString('en-US'));
    for (const entry of listProviders()) {
      const { requestsPerMinute, requestsPerSecond, concurrency } = entry.rateLimit;
      assert.equal(listed.get(entry.key), `${figure(requestsPerMinute)} ${figure(requestsPerSecond)} ${figure(concurrency)}`, entry.key);
    }
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

  it('lets rateLimit reach the per-second bound in per-minute terms, and names the bounds past it', () => {
    assert.equal(RATE_LIMIT_BOUNDS.requestsPerMinute.max, RATE_LIMIT_BOUNDS.requestsPerSecond.max * 60);
    const highest = { requestsPerMinute: 600_000, requestsPerSecond: 10_000, concurrency: 1_000 };
    assert.deepEqual(validateIntegrationSettings('slack', { rateLimit: highest }), { ok: true, settings: { rateLimit: highest } });
    assert.deepEqual(invalid('slack', { rateLimit: { requestsPerMinute: 600_001, requestsPerSecond: 10_001, concurrency: 1_001 } }), [
      'rateLimit.requestsPerMinute must be an integer from 1 to 600000',
      'rateLimit.requestsPerSecond must be an integer from 1 to 10000',
      'rateLimit.concurrency must be an integer from 1 to 1000',
    ]);
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
