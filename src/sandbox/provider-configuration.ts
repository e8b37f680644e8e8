import { randomBytes } from 'node:crypto';
import type { Client, Configuration, KoaContextWithOIDC, Token } from 'oidc-provider';
import { findAccount } from './sandbox-account.ts';
import { renderMessagePage } from './interaction-pages.ts';
import type { SandboxStore } from './memory-adapter.ts';

/** The oidc-provider module, loaded lazily by startSandbox (importing it costs ~0.3 s). */
export type OidcProviderModule = typeof import('oidc-provider');

export interface ProviderConfigurationInput {
  oidc: OidcProviderModule;
  store: SandboxStore;
  jwks: { keys: Record<string, unknown>[] };
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
}

const DAY = 24 * 60 * 60;

/**
 * The oidc-provider configuration of the sandbox. Every default that oidc-provider would
 * otherwise announce on the console ("you SHOULD/MUST change it") is set explicitly here, which
 * is what keeps the sandbox quiet in tests; the reasons for the behavioural choices are below.
 */
export function buildProviderConfiguration(input: ProviderConfigurationInput): Configuration {
  const { oidc, accessTokenTtlSeconds, refreshTokenTtlSeconds } = input;
  return {
    adapter: input.store.adapterFactory(),
    jwks: input.jwks,
    // Signed-cookie keys are random per start: sessions do not survive a restart, which is what a
    // development provider should do, and no key ever sits in the repository.
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    // Our own pages under /interaction/:uid (src/sandbox/interaction-routes.ts).
    interactions: { policy: signInEveryTimePolicy(oidc), url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount,
    // Tokenkeeper reads the provider account identity from the ID token, so `openid` alone
    // carries sub, email and name; `email` and `profile` are accepted too for clients that ask.
    claims: {
      openid: ['sub', 'email', 'email_verified', 'name'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    // Put the claims in the ID token itself, not only behind userinfo.
    conformIdTokenClaims: false,
    // `api` is the scope of the demo API and of client-credentials ("system") tokens.
    scopes: ['openid', 'offline_access', 'api'],
    responseTypes: ['code'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    // Every client allowed the refresh_token grant gets a refresh token, without having to ask
    // for offline_access or prompt=consent: Tokenkeeper's job is keeping connections alive, so
    // the sandbox should behave like the providers that always hand one out.
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Rotation on every refresh; oidc-provider revokes the whole grant when a consumed refresh
    // token is presented again, which is the reuse detection of RFC 9700 §4.14.2.
    rotateRefreshToken: true,
    // Tokens outlive the browser session: logging out of the sandbox must not silently kill a
    // connection Tokenkeeper holds.
    expiresWithSession: () => false,
    ttl: {
      AccessToken: accessTokenTtlSeconds,
      ClientCredentials: accessTokenTtlSeconds,
      AuthorizationCode: 60,
      IdToken: 60 * 60,
      // Rolling: each rotation issues a refresh token with the full lifetime again.
      RefreshToken: refreshTokenTtlSeconds,
      Interaction: 60 * 60,
      Session: 14 * DAY,
      // A grant must outlive any refresh token issued under it, or refreshing "forever" would stop.
      Grant: Math.max(refreshTokenTtlSeconds, 365 * DAY),
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true, allowedPolicy: revocationAllowed(oidc) },
      introspection: { enabled: true, allowedPolicy: introspectionAllowed },
      userinfo: { enabled: true },
      // Opaque access tokens for the sandbox itself: no resource servers to configure.
      resourceIndicators: { enabled: false },
      // Tokenkeeper sends bearer tokens; sender-constrained tokens would only add a way for
      // /api/me to disagree with the token endpoint.
      dPoP: { enabled: false },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    },
    clientBasedCORS: (_ctx, origin, client) => client.redirectUris.some((uri) => URL.parse(uri)?.origin === origin),
    renderError,
  };
}

/**
 * oidc-provider's default policy, plus: the login page is shown on every authorization request,
 * even with a live sandbox session. Real providers remember you; a sandbox that did would make
 * "connect a second account" in the same browser impossible without clearing cookies. The check
 * stands down once this request's login is done, or the flow would loop. With `prompt=none` it
 * answers `login_required`, like a provider whose session ended.
 */
function signInEveryTimePolicy(oidc: OidcProviderModule) {
  const { base, Check } = oidc.interactionPolicy;
  const policy = base();
  policy.get('login')!.checks.add(new Check(
    'sandbox_sign_in_every_time',
    'The sandbox asks who you are on every authorization request',
    (ctx) => (ctx.oidc.result?.login ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT),
  ));
  return policy;
}

/** RFC 7009 §2.1: a client may only revoke its own tokens. */
function revocationAllowed(oidc: OidcProviderModule) {
  return async (_ctx: unknown, client: Client, token: Token): Promise<boolean> => {
    if (token.clientId === client.clientId) return true;
    if (client.clientAuthMethod === 'none') return false;
    throw new oidc.errors.InvalidRequest('client is not authorized to revoke the presented token');
  };
}

/** RFC 7662 §2.1: public clients only learn about their own tokens. */
async function introspectionAllowed(ctx: { oidc: { client: Client } }, client: Client, token: Token): Promise<boolean> {
  return !(client.clientAuthMethod === 'none' && token.clientId !== ctx.oidc.client.clientId);
}

function setPageHeaders(ctx: KoaContextWithOIDC): void {
  ctx.type = 'html';
  ctx.set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
}

async function renderError(ctx: KoaContextWithOIDC, out: Record<string, string>): Promise<void> {
  setPageHeaders(ctx);
  const message = out.error_description ?? 'The request could not be completed.';
  ctx.body = renderMessagePage('Something went wrong', message, { error: out.error ?? 'server_error' });
}

async function logoutSource(ctx: KoaContextWithOIDC, form: string): Promise<void> {
  setPageHeaders(ctx);
  // `form` is oidc-provider's hidden form carrying the xsrf token; the buttons submit it.
  const page = renderMessagePage('Sign out', 'Sign out of the Tokenkeeper sandbox?');
  ctx.body = page.replace(
    '</main>',
    `${form}<button class="primary" type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Sign out</button>
<p></p><button class="secondary" type="submit" form="op.logoutForm">Stay signed in</button></main>`,
  );
}

async function postLogoutSuccessSource(ctx: KoaContextWithOIDC): Promise<void> {
  setPageHeaders(ctx);
  ctx.body = renderMessagePage('Signed out', 'You are signed out of the Tokenkeeper sandbox.');
}
