import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { Clock } from '../clock.ts';
import type { ProxyConfig } from '../config/index.ts';
import { TokenkeeperError, isTokenkeeperError } from '../errors.ts';
import type { EventBus } from '../events.ts';
import type { IntegrationService, IntegrationView } from '../integrations/index.ts';
import type { CallOutcome, OutboundGuard, OutboundPermit, TokenResult } from '../tokens/index.ts';
import { sleep } from '../tokens/index.ts';
import { ApiBases, needsConnectionMetadata } from './api-base-url.ts';
import { inboundHeaders, outboundHeaders, type HeaderValues } from './headers.ts';
import { isReplayable, type ProxyBody } from './request-body.ts';
import { discard, limitedBody } from './response-limit.ts';
import { isRetryableStatus, mayRetry, retryDelayMs } from './retry-policy.ts';
import { proxyTarget, type ProxyTarget } from './target-url.ts';
import { TokenRenewals, type RenewableTokens } from './token-renewal.ts';
import { UpstreamClient } from './upstream-request.ts';

/** The methods the proxy passes on (TRACE and CONNECT are not API calls). */
export const PROXY_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Statuses whose answers have no body (RFC 9110 §6.4.1). */
const BODYLESS_STATUSES = new Set([204, 205, 304]);

/** Why an answer that could have been retried was passed back as it was: `tokenkeeper-proxy-not-retried`. */
export type NotRetriedReason =
  | 'not_idempotent'
  | 'body_not_replayable'
  | 'retries_exhausted'
  | 'retry_after_too_long'
  | 'refreshed_token_refused'
  | 'token_just_refreshed';

export interface ProxyCall {
  connectionId: string;
  /** Upper-case, one of PROXY_METHODS. */
  method: string;
  /** The path and query after the connection id, as the caller wrote them (still percent-encoded). */
  target: string;
  headers: HeaderValues;
  body: ProxyBody;
  /** Aborted when the caller goes away: waits and sends stop. */
  signal?: AbortSignal;
  /**
   * Retry a 429 or 503 whatever the method: the caller has made a second send harmless (an
   * action executed with an Idempotency-Key keeps the provider's answer for that key). Without
   * it, only idempotent methods and calls with an `Idempotency-Key` header are retried.
   */
  retryUnsafe?: boolean;
}

export interface ProxyAnswer {
  status: number;
  /** The provider's headers (hop-by-hop dropped) and Tokenkeeper's own `tokenkeeper-*` ones. */
  headers: Record<string, string | string[]>;
  /** The provider's body as it streams in, held to the response-size limit; null when there is none. */
  body: Readable | null;
  attempts: number;
  tokenRefreshed: boolean;
}

/** What the proxy reads connections through: one row, with its integration. */
export interface ProxyConnections {
  get(id: string): Promise<{ record: { integrationId: string; metadata: Record<string, unknown> }; integration: IntegrationView }>;
}

export interface ProxyServiceOptions {
  tokens: RenewableTokens;
  connections: ProxyConnections;
  integrations: Pick<IntegrationService, 'recordById' | 'peekRecordById'>;
  /** The integration's rate limiter and circuit breaker, shared with refreshes (on PostgreSQL, with every instance). */
  guard: OutboundGuard;
  events: EventBus;
  clock: Clock;
  config: ProxyConfig;
  /** How long a call may wait for the integration's rate limiter before `proxy_rate_limited`. Default 5 s. */
  rateLimitWaitMs?: number;
  random?: () => number;
}

/**
 * The authenticated proxy to provider APIs (issue 9; docs/proxy.md): the application names a
 * connection and a path, Tokenkeeper sends the call to the integration's API base URL with the
 * connection's token, and the application never holds a provider token.
 *
 * One call, in order:
 * 1. the connection and its integration (404 when unknown), the API base URL (409
 *    `proxy_not_configured`) and the target (400 `proxy_path_invalid`): nothing sent yet;
 * 2. a token from the one refresh path (`getToken`: 409 `connection_needs_reauth` and the other
 *    token errors, still before anything is sent);
 * 3. a permit of the integration's rate limiter and circuit breaker, then the call;
 * 4. a 401: one forced refresh, shared by every call that got the same token refused
 *    (token-renewal.ts), and one retry with the new token;
 * 5. a 429 or 503: wait out `Retry-After` (or a backoff) and retry, at most
 *    TOKENKEEPER_PROXY_MAX_RETRIES times, for idempotent methods or with an `Idempotency-Key`;
 * 6. anything else, or a retry not allowed: the provider's answer, streamed back, with
 *    `tokenkeeper-proxy-attempts`, `tokenkeeper-token-refreshed` and, when a retryable answer
 *    was passed back as it was, `tokenkeeper-proxy-not-retried` saying why.
 */
export class ProxyService {
  private readonly options: ProxyServiceOptions;
  private readonly upstream = new UpstreamClient();
  private readonly renewals: TokenRenewals;
  /** Connection id → integration id: a connection never moves to another integration. */
  private readonly integrationIds = new Map<string, string>();
  /** Each integration's API base URL, parsed once per version of its row. */
  private readonly bases = new ApiBases();

  constructor(options: ProxyServiceOptions) {
    this.options = options;
    this.renewals = new TokenRenewals(options.tokens, options.clock);
  }

  /**
   * Sends one call and resolves with the provider's answer (any status), or rejects with a
   * Tokenkeeper error when there is no answer to pass back: the call was refused before it was
   * sent, the token could not be had, the provider did not answer, or answered too much.
   */
  async forward(call: ProxyCall): Promise<ProxyAnswer> {
    const startedAt = this.options.clock.now();
    const { integration, metadata } = await this.integrationOf(call.connectionId);
    // The attempts so far, for the event of a call that fails (a field, not a closure per call).
    const progress = { attempts: 0 };
    try {
      const target = proxyTarget(this.bases.of(integration, metadata), call.target);
      const answer = await this.send(call, integration, target, progress);
      this.completed(integration, call.method, answer.status, startedAt, answer.attempts);
      return answer;
    } catch (error) {
      this.completed(integration, call.method, isTokenkeeperError(error) ? error.status : 500, startedAt, progress.attempts);
      throw error;
    }
  }

  /**
   * `tk.proxy.fetch(connectionId, path, init)`: the proxy for an embedding application, with
   * fetch's own types. `path` is relative to the integration's API base URL
   * (`/gmail/v1/users/me/profile?fields=emailAddress`). Resolves with the provider's answer as a
   * standard Response whatever its status; rejects with a TokenkeeperError when Tokenkeeper
   * itself refused or could not complete the call (the codes of docs/errors.md).
   */
  async fetch(connectionId: string, path: string, init: RequestInit = {}): Promise<Response> {
    const method = (init.method ?? 'GET').toUpperCase();
    if (!(PROXY_METHODS as readonly string[]).includes(method)) {
      throw new TokenkeeperError('invalid_request', `The proxy passes on ${PROXY_METHODS.join(', ')}; not ${method}.`);
    }
    const headers = new Headers(init.headers);
    const body = await bodyOfInit(init.body, headers);
    const headerValues: HeaderValues = {};
    for (const [name, value] of headers) headerValues[name] = value;
    const target = path === '' || path.startsWith('/') || path.startsWith('?') ? path : `/${path}`;
    const answer = await this.forward({ connectionId, method, target, headers: headerValues, body, signal: init.signal ?? undefined });
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      for (const item of Array.isArray(value) ? value : [value]) responseHeaders.append(name, item);
    }
    const stream = answer.body === null ? null : (Readable.toWeb(answer.body) as ReadableStream<Uint8Array>);
    return new Response(stream, { status: answer.status, headers: responseHeaders });
  }

  /** Closes kept-alive connections to providers. */
  close(): void {
    this.upstream.close();
  }

  /** The connection's integration, and its metadata when the base URL needs it (Salesforce). */
  private async integrationOf(connectionId: string): Promise<{ integration: IntegrationView; metadata: Record<string, unknown> }> {
    const { integrations, connections } = this.options;
    const knownId = this.integrationIds.get(connectionId);
    if (knownId !== undefined) {
      const integration = integrations.peekRecordById(knownId) ?? (await integrations.recordById(knownId));
      if (!needsConnectionMetadata(integration.provider, integration.record.settings)) return { integration, metadata: {} };
    }
    const { record, integration } = await connections.get(connectionId);
    if (this.integrationIds.size >= 100_000) this.integrationIds.clear();
    this.integrationIds.set(connectionId, record.integrationId);
    return { integration, metadata: record.metadata };
  }

  private completed(integration: IntegrationView, method: string, status: number, startedAt: number, attempts: number): void {
    this.options.events.emit('proxy.completed', {
      integrationKey: integration.record.key,
      provider: integration.provider.key,
      method,
      status,
      durationMs: this.options.clock.now() - startedAt,
      attempts,
    });
  }

  private async send(call: ProxyCall, integration: IntegrationView, target: ProxyTarget, progress: { attempts: number }): Promise<ProxyAnswer> {
    const { tokens, config, clock } = this.options;
    let token: TokenResult = await tokens.getToken(call.connectionId);
    const replayable = isReplayable(call.body);
    const retryAllowed = call.retryUnsafe === true || mayRetry(call.method, call.headers);
    const contentLength = call.body.kind === 'buffer' ? call.body.bytes.length : call.body.kind === 'stream' ? call.body.length : null;
    let attempts = 0;
    let refreshed = false;
    let waits = 0;
    for (;;) {
      if (call.signal?.aborted) throw new TokenkeeperError('proxy_upstream_unreachable', 'The caller went away before the call was sent.');
      progress.attempts = ++attempts;
      const permit = await this.acquire(integration);
      let response: IncomingMessage;
      try {
        response = await this.upstream.send({
          target,
          method: call.method,
          headers: outboundHeaders(call.headers, token.accessToken, contentLength),
          body: call.body,
          timeoutMs: config.timeoutMs,
          signal: call.signal,
        });
      } catch (error) {
        // Unreachable or silent: the provider's fault, for its breaker; the caller leaving is not.
        void permit.release(call.signal?.aborted ? 'neutral' : 'failure');
        throw error;
      }
      const status = response.statusCode ?? 0;
      if (status < 200 || status > 599) {
        discard(response);
        void permit.release('failure');
        throw new TokenkeeperError('proxy_upstream_unreachable', `The provider answered with status ${status}, which is not a final HTTP status.`);
      }
      let notRetried: NotRetriedReason | undefined;
      if (status !== 401) this.renewals.accepted(call.connectionId, token.accessToken);

      if (status === 401) {
        if (refreshed) notRetried = 'refreshed_token_refused';
        else if (!replayable) notRetried = 'body_not_replayable';
        else {
          // Given back before the refresh: it needs a permit of the same integration.
          void permit.release('success');
          let renewed: TokenResult | null;
          try {
            renewed = await this.renewals.renew(call.connectionId, token.accessToken);
          } catch (error) {
            discard(response);
            throw error;
          }
          if (renewed) {
            discard(response);
            token = renewed;
            refreshed = true;
            continue;
          }
          return this.answer(call, response, null, { attempts, refreshed, notRetried: 'token_just_refreshed' });
        }
      } else if (isRetryableStatus(status)) {
        if (status === 429) this.options.events.emit('proxy.rate_limited', { integrationKey: integration.record.key, provider: integration.provider.key, source: 'provider' });
        const delayMs = retryDelayMs(response.headers['retry-after'], waits, clock.now(), this.options.random);
        if (!retryAllowed) notRetried = 'not_idempotent';
        else if (!replayable) notRetried = 'body_not_replayable';
        else if (waits >= config.maxRetries) notRetried = 'retries_exhausted';
        else if (delayMs > config.maxRetryWaitSeconds * 1000) notRetried = 'retry_after_too_long';
        else {
          discard(response);
          void permit.release('failure');
          waits += 1;
          await sleep(delayMs, call.signal);
          continue;
        }
      }
      return this.answer(call, response, permit, { attempts, refreshed, notRetried });
    }
  }

  /** A permit for one call, or `proxy_rate_limited` (429, Retry-After) when the limiter stays dry. */
  private async acquire(integration: IntegrationView): Promise<OutboundPermit> {
    try {
      return await this.options.guard.acquire(integration, this.options.rateLimitWaitMs ?? 5_000);
    } catch (error) {
      if (!isTokenkeeperError(error, 'provider_unavailable')) throw error;
      this.options.events.emit('proxy.rate_limited', { integrationKey: integration.record.key, provider: integration.provider.key, source: 'tokenkeeper' });
      throw new TokenkeeperError('proxy_rate_limited', `The outbound rate limit of the integration "${integration.record.key}" is exhausted; nothing was sent.`, {
        retryAfterMs: error.retryAfterMs ?? 1_000,
      });
    }
  }

  /**
   * The provider's answer as it goes back. The permit is held until its body has streamed (or
   * failed), so the concurrency cap counts calls the provider is still answering.
   */
  private answer(
    call: ProxyCall,
    response: IncomingMessage,
    permit: OutboundPermit | null,
    facts: { attempts: number; refreshed: boolean; notRetried: NotRetriedReason | undefined },
  ): ProxyAnswer {
    const status = response.statusCode!;
    const outcome: CallOutcome = status >= 500 || status === 429 ? 'failure' : 'success';
    const headers = inboundHeaders(response.headers);
    headers['tokenkeeper-proxy-attempts'] = String(facts.attempts);
    headers['tokenkeeper-token-refreshed'] = String(facts.refreshed);
    if (facts.notRetried) headers['tokenkeeper-proxy-not-retried'] = facts.notRetried;
    if (call.method === 'HEAD' || BODYLESS_STATUSES.has(status)) {
      discard(response);
      void permit?.release(outcome);
      return { status, headers, body: null, attempts: facts.attempts, tokenRefreshed: facts.refreshed };
    }
    let body: Readable;
    try {
      body = limitedBody(response, this.options.config.maxResponseBytes);
    } catch (error) {
      void permit?.release(outcome);
      throw error;
    }
    if (permit) body.once('close', () => void permit.release(outcome));
    return { status, headers, body, attempts: facts.attempts, tokenRefreshed: facts.refreshed };
  }
}

/**
 * A fetch `body` as the proxy sends it: a ReadableStream streams through (not replayable);
 * anything else (string, bytes, Blob, FormData, URLSearchParams) is already in memory and is
 * serialised the way fetch would, its Content-Type too unless the caller set one.
 */
async function bodyOfInit(body: RequestInit['body'], headers: Headers): Promise<ProxyBody> {
  if (body === undefined || body === null) return { kind: 'none' };
  if (body instanceof ReadableStream) {
    const declared = Number(headers.get('content-length'));
    return { kind: 'stream', stream: Readable.fromWeb(body as import('node:stream/web').ReadableStream), length: Number.isSafeInteger(declared) && declared >= 0 && headers.has('content-length') ? declared : null };
  }
  const serialised = new Request('http://tokenkeeper.invalid/', { method: 'POST', body });
  const type = serialised.headers.get('content-type');
  if (type !== null && !headers.has('content-type')) headers.set('content-type', type);
  const bytes = Buffer.from(await serialised.arrayBuffer());
  return bytes.length === 0 ? { kind: 'none' } : { kind: 'buffer', bytes };
}
