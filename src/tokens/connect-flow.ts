import type { Clock } from '../clock.ts';
import { hashSecret, type KeyRing } from '../crypto/index.ts';
import { TokenkeeperError, isTokenkeeperError } from '../errors.ts';
import type { EventBus } from '../events.ts';
import { newId, randomToken } from '../ids.ts';
import type { IntegrationService } from '../integrations/index.ts';
import type { Logger } from '../logger.ts';
import { isLoopbackHost } from '../providers/index.ts';
import {
  buildAuthorizationUrl,
  classifyFailure,
  createPkce,
  exchangeAuthorizationCode,
  fetchAccountIdentity,
} from '../oauth/index.ts';
import {
  consumeConnectSession,
  findConnectSessionByLink,
  findConnectSessionByState,
  insertConnectSession,
  startConnectAttempt,
  type ConnectSessionRecord,
  type ConnectionRecord,
  type Database,
} from '../store/index.ts';
import { isValidOwnerId, type ConnectionService } from './connection-service.ts';

export interface ConnectFlowOptions {
  db: Database;
  keyRing: KeyRing;
  clock: Clock;
  events: EventBus;
  logger: Logger;
  integrations: IntegrationService;
  connections: ConnectionService;
  publicUrl: string;
  /**
   * Origins `redirect_to` may point at besides the public URL's own (TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS,
   * already normalised by the configuration). Default none.
   */
  allowedRedirectOrigins?: readonly string[];
  /** Also accept any loopback origin as a return address (development). Default false. */
  allowLoopbackRedirects?: boolean;
  /** How long a connect link and its state stay usable (DESIGN.md: 10 minutes). */
  sessionTtlMs?: number;
}

export interface CallbackOutcome {
  connection: ConnectionRecord;
  integrationKey: string;
  reconnected: boolean;
  redirectTo: URL | null;
}

/** A callback failure that happened after the state was accepted: we know where to send the user back. */
export class CallbackError extends Error {
  readonly error: TokenkeeperError;
  readonly redirectTo: URL | null;
  constructor(error: TokenkeeperError, redirectTo: URL | null) {
    super(error.message);
    this.error = error;
    this.redirectTo = redirectTo;
  }
}

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * The connect flow: a connect session (made by the app through the API) → a connect link the
 * user opens → the provider's authorization page (state + PKCE S256, RFC 7636) → the callback,
 * where the one-time state is checked and the code exchanged. State and link are random 256-bit
 * values stored only as hashes; the PKCE verifier is stored encrypted.
 */
export class ConnectFlow {
  private readonly options: ConnectFlowOptions & { sessionTtlMs: number };

  constructor(options: ConnectFlowOptions) {
    this.options = { sessionTtlMs: 10 * 60_000, ...options };
  }

  /**
   * An open redirect here would hand the user, fresh from the provider, to any site with their
   * new `connection_id` (RFC 9700 §4.11.1), so only known origins qualify: the service's own,
   * TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS, and loopback in development. Compared as WHATWG
   * origins (RFC 6454 §6.2 serialisation), the same normalisation the configuration applied.
   */
  private isAllowedReturnOrigin(url: URL): boolean {
    const { publicUrl, allowedRedirectOrigins = [], allowLoopbackRedirects = false } = this.options;
    if (url.origin === new URL(publicUrl).origin || allowedRedirectOrigins.includes(url.origin)) return true;
    return allowLoopbackRedirects && isLoopbackHost(url.hostname);
  }

  /**
   * The stored return URL, checked again at the callback: a session made before the allow-list
   * existed (or narrowed) must not redirect off-site; the user sees the done page instead.
   */
  private returnUrlOf(session: ConnectSessionRecord): URL | null {
    if (session.redirectTo === null) return null;
    const parsed = parseReturnUrl(session.redirectTo);
    if (typeof parsed !== 'string' && this.isAllowedReturnOrigin(parsed)) return parsed;
    this.options.logger.warn('the stored redirect_to is not an allowed origin; showing the done page instead', { sessionId: session.id });
    return null;
  }

  private verifierAad(sessionId: string): string {
    return `connect_sessions:${sessionId}:code_verifier`;
  }

  async createSession(body: unknown): Promise<{ id: string; connectUrl: string; expiresAt: number; integrationKey: string; ownerId: string | null }> {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new TokenkeeperError('invalid_request', 'The body must be a JSON object.');
    const input = body as Record<string, unknown>;
    const problems: string[] = [];
    for (const field of Object.keys(input)) {
      if (!['integration', 'owner_id', 'redirect_to', 'kind'].includes(field)) problems.push(`unknown field "${field}"`);
    }
    const kind = input.kind === undefined ? 'user' : input.kind;
    if (kind !== 'user' && kind !== 'system') problems.push('kind must be "user" or "system"');
    if (typeof input.integration !== 'string' || input.integration.length === 0) problems.push('integration is required (an integration key)');
    if (kind === 'user' && !isValidOwnerId(input.owner_id)) problems.push('owner_id is required: 1-200 printable characters without spaces');
    if (kind === 'system' && input.owner_id !== undefined && input.owner_id !== null) problems.push('a system connection has no owner_id');
    let returnUrl: URL | null = null;
    if (input.redirect_to !== undefined && input.redirect_to !== null) {
      const parsed = parseReturnUrl(input.redirect_to);
      if (typeof parsed === 'string') problems.push(parsed);
      else returnUrl = parsed;
    }
    if (problems.length > 0) throw new TokenkeeperError('invalid_request', `Invalid connect session: ${problems.join('; ')}.`, { details: { problems } });
    if (returnUrl !== null && !this.isAllowedReturnOrigin(returnUrl)) {
      throw new TokenkeeperError(
        'redirect_origin_not_allowed',
        `redirect_to points to ${returnUrl.origin}, which is not an allowed return origin; add it to TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS.`,
        { details: { origin: returnUrl.origin } },
      );
    }
    // Stored as the browser will read it, so the callback redirects to exactly what was checked.
    const redirectTo = returnUrl?.href ?? null;

    const integration = await this.options.integrations.getByKey(input.integration as string);
    if (!integration.enabled) throw new TokenkeeperError('integration_disabled', `The integration "${integration.key}" is disabled.`);
    const linkToken = randomToken(32);
    const now = this.options.clock.now();
    const record: ConnectSessionRecord = {
      id: newId('cs'),
      integrationId: integration.id,
      ownerId: kind === 'user' ? (input.owner_id as string) : null,
      kind: kind as 'user' | 'system',
      redirectTo,
      linkHash: hashSecret(linkToken),
      stateHash: null,
      codeVerifierSealed: null,
      nonce: null,
      expiresAt: now + this.options.sessionTtlMs,
      openedAt: null,
      consumedAt: null,
      createdAt: now,
    };
    await insertConnectSession(this.options.db, record);
    this.options.events.emit('connect.started', { sessionId: record.id, integrationKey: integration.key, ownerId: record.ownerId });
    return {
      id: record.id,
      connectUrl: `${this.options.publicUrl}/connect/${linkToken}`,
      expiresAt: record.expiresAt,
      integrationKey: integration.key,
      ownerId: record.ownerId,
    };
  }

  /** Opening the connect link: a fresh state and PKCE pair, then the provider's authorization URL. */
  async openLink(linkToken: string): Promise<URL> {
    if (!TOKEN_PATTERN.test(linkToken)) throw new TokenkeeperError('connect_session_not_found');
    const { db, clock, keyRing } = this.options;
    const session = await findConnectSessionByLink(db, hashSecret(linkToken));
    if (!session) throw new TokenkeeperError('connect_session_not_found');
    const now = clock.now();
    if (session.consumedAt !== null) {
      throw new TokenkeeperError('connect_session_expired', 'This connect link was already used; start the connection again.');
    }
    if (session.expiresAt <= now) throw new TokenkeeperError('connect_session_expired');
    const integration = await this.options.integrations.resolveById(session.integrationId);
    if (!integration.record.enabled) throw new TokenkeeperError('integration_disabled');
    const state = randomToken(32);
    const pkce = integration.provider.pkce || integration.record.settings.pkce === true ? await createPkce() : null;
    const nonce = integration.client.scopes.includes('openid') ? randomToken(16) : null;
    const started = await startConnectAttempt(db, session.id, {
      stateHash: hashSecret(state),
      codeVerifierSealed: pkce ? keyRing.seal(pkce.verifier, this.verifierAad(session.id)) : null,
      nonce,
      openedAt: now,
    });
    if (!started) throw new TokenkeeperError('connect_session_expired');
    return buildAuthorizationUrl(integration.client, {
      state,
      codeChallenge: pkce?.challenge,
      nonce: nonce ?? undefined,
    });
  }

  /**
   * `GET /oauth/callback`. Unknown, malformed, expired or replayed state → a TokenkeeperError and
   * nothing stored. Once the state is accepted it is spent, whatever happens next: an
   * authorization code is single-use too, so there is nothing a retry could save.
   */
  async handleCallback(params: URLSearchParams): Promise<CallbackOutcome> {
    const { db, clock, keyRing, integrations, logger, events } = this.options;
    const state = params.get('state');
    if (state === null || state === '') throw new TokenkeeperError('state_missing');
    if (!TOKEN_PATTERN.test(state)) throw new TokenkeeperError('state_invalid');
    const stateHash = hashSecret(state);
    const session = await findConnectSessionByState(db, stateHash);
    if (!session) throw new TokenkeeperError('state_invalid');
    const now = clock.now();
    if (session.consumedAt !== null) throw new TokenkeeperError('state_replayed');
    if (session.expiresAt <= now) throw new TokenkeeperError('state_expired');
    // Exactly one of two racing callbacks with this state gets past this line.
    if (!(await consumeConnectSession(db, session.id, stateHash, now))) throw new TokenkeeperError('state_replayed');

    const redirectTo = this.returnUrlOf(session);
    const integration = await integrations.resolveById(session.integrationId);
    const fail = (error: TokenkeeperError): never => {
      events.emit('connect.failed', { sessionId: session.id, integrationKey: integration.record.key, errorCode: error.code });
      throw new CallbackError(error, redirectTo);
    };

    const providerError = params.get('error');
    if (providerError !== null) {
      const description = params.get('error_description');
      if (providerError === 'access_denied') fail(new TokenkeeperError('access_denied', description ? `The user did not grant access: ${description}` : undefined));
      fail(
        new TokenkeeperError('provider_callback_error', `The provider returned "${providerError.slice(0, 100)}"${description ? `: ${description.slice(0, 300)}` : ''}.`, {
          details: { provider_error: providerError.slice(0, 100) },
        }),
      );
    }
    if (!params.get('code')) fail(new TokenkeeperError('code_missing'));

    const codeVerifier = session.codeVerifierSealed ? keyRing.open(session.codeVerifierSealed, this.verifierAad(session.id)) : null;
    const issuedAt = clock.now();
    let result: Awaited<ReturnType<typeof exchangeAuthorizationCode>>;
    try {
      // Through the integration's rate limiter and breaker, like every outbound call.
      result = await this.options.connections.guard.run(
        integration,
        () =>
          exchangeAuthorizationCode(integration.client, {
            callbackParameters: params,
            expectedState: state,
            codeVerifier,
            nonce: session.nonce,
            clock,
            signal: AbortSignal.timeout(15_000),
          }),
        { maxWaitMs: 5_000, isProviderFault: (error) => classifyFailure(error, integration.provider).kind === 'transient' },
      );
    } catch (error) {
      const classification = classifyFailure(error, integration.provider);
      logger.warn('authorization code exchange failed', { integration: integration.record.key, sessionId: session.id, reason: classification.reason });
      if (classification.kind === 'integration') {
        // The provider refused our client credentials: the operator's problem, not the user's.
        await this.options.integrations.markFailing(integration.record.id, {
          code: classification.providerError ?? classification.code,
          message: classification.reason,
          recordUpdatedAt: integration.record.updatedAt,
        });
        fail(new TokenkeeperError('integration_failing', `The provider rejected the integration's credentials: ${classification.reason}`, {
          details: { integration: integration.record.key, provider_error: classification.providerError },
        }));
      }
      if (isTokenkeeperError(error)) fail(error);
      fail(
        classification.kind === 'permanent'
          ? new TokenkeeperError('code_exchange_failed', `The provider rejected the authorization code: ${classification.reason}`, {
              details: { provider_error: classification.providerError },
            })
          : new TokenkeeperError(classification.code === 'invalid_provider_response' ? 'invalid_provider_response' : 'provider_unavailable', `The code exchange failed: ${classification.reason}`),
      );
      throw error;
    }
    let identity: { accountId: string; label: string | null } | null = null;
    try {
      identity = await this.options.connections.guard.run(
        integration,
        () => fetchAccountIdentity(integration.client, result, { signal: AbortSignal.timeout(10_000) }),
        { maxWaitMs: 5_000, isProviderFault: (error) => classifyFailure(error, integration.provider).kind === 'transient' },
      );
    } catch (error) {
      logger.warn('could not read the provider account identity; the connection is stored without it', { integration: integration.record.key, error });
    }
    const saved = await this.options.connections.saveTokenSet({
      integration,
      ownerId: session.ownerId,
      kind: session.kind,
      tokens: result.tokens,
      issuedAt,
      identity,
      imported: false,
    });
    return { connection: saved.record, integrationKey: integration.record.key, reconnected: saved.reconnected, redirectTo };
  }
}

/**
 * `redirect_to` parsed exactly as a browser will parse the Location it ends up in (WHATWG URL:
 * `https:\\evil.example` is `https://evil.example/`), or the problem with it. User info is
 * refused outright: `https://trusted.app@evil.example` reads like one host and goes to another.
 */
function parseReturnUrl(value: unknown): URL | string {
  const problem = 'redirect_to must be an absolute http(s) URL';
  if (typeof value !== 'string') return problem;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return problem;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return problem;
  if (url.username !== '' || url.password !== '') return 'redirect_to must not contain a user name or password';
  return url;
}
