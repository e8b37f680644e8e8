import { IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { Middleware } from 'oidc-provider';
import { decideFault, type SandboxFaults } from './faults.ts';
import { BodyTooLargeError, readBody, sendJson } from './http-helpers.ts';
import { RateLimitWindow } from './rate-limit-window.ts';
import type { TokenRequestStats } from './token-request-stats.ts';

/** oidc-provider itself refuses bodies above 56 KiB; a little headroom so it gives that answer. */
const TOKEN_BODY_LIMIT_BYTES = 64 * 1024;

export interface TokenEndpointInput {
  faults: () => SandboxFaults;
  stats: TokenRequestStats;
  random: () => number;
  /** Aborted when the sandbox closes, so a pending latency fault cannot hold the process open. */
  signal: AbortSignal;
  /** oidc-provider's request handler, which answers the request when no fault applies. */
  provider: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

/**
 * POST /token, wrapped: count the request, apply the fault switches, then hand it to
 * oidc-provider.
 *
 * The body has to be read to learn the `grant_type` for the stats before any fault answers,
 * which consumes the request stream; the provider then gets a replayed copy of the request
 * carrying the same headers, socket and body.
 */
export function createTokenEndpoint(input: TokenEndpointInput) {
  const refreshes = new RefreshSerializer();
  const rateWindow = new RateLimitWindow();
  return async function handleTokenRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // In flight until the answer is out (or the connection gone), whoever writes it.
    input.stats.entered();
    res.once('close', () => input.stats.left());
    await handle(req, res);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: Buffer;
    try {
      body = await readBody(req, TOKEN_BODY_LIMIT_BYTES);
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error;
      sendJson(res, 413, { error: 'invalid_request', error_description: 'request body too large' });
      return;
    }

    const form = formOf(req, body);
    input.stats.record(form?.get('grant_type') ?? undefined);
    // Throttled on arrival, as a provider's gateway does; the answer still waits out any latency.
    const perSecond = input.faults().rateLimitPerSecond;
    const overRateLimit = perSecond !== null && !rateWindow.admit(perSecond, Date.now());

    const latencyMs = input.faults().latencyMs;
    if (latencyMs > 0) {
      try {
        await delay(latencyMs, undefined, { signal: input.signal });
      } catch {
        res.destroy();
        return;
      }
    }

    // Read the switches again after the delay: they may have changed meanwhile, and a
    // `next…Count` must count down on the current setting.
    if (overRateLimit) {
      input.stats.recordRateLimited();
      sendJson(res, 429, { error: 'temporarily_unavailable', error_description: 'Too many requests (sandbox rate limit).' }, { 'retry-after': '1' });
      return;
    }
    const decision = decideFault(input.faults(), input.random);
    switch (decision.kind) {
      case 'rate_limited':
        // RFC 6585 §4 with Retry-After (RFC 9110 §10.2.3, delay in seconds).
        sendJson(res, 429, { error: 'temporarily_unavailable', error_description: 'Too many requests (sandbox fault switch).' }, {
          'retry-after': String(decision.retryAfterSeconds),
        });
        return;
      case 'unavailable':
        sendJson(res, decision.status, { error: 'temporarily_unavailable', error_description: 'The sandbox is unavailable (fault switch).' }, {
          'retry-after': String(decision.retryAfterSeconds),
        });
        return;
      case 'garbage': {
        const html = '<html><body><h1>502 Bad Gateway</h1><p>upstream sent something odd</p></body></html>';
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(Buffer.byteLength(html)), 'cache-control': 'no-store' });
        res.end(html);
        return;
      }
      case 'pass': {
        const refreshToken = form?.get('grant_type') === 'refresh_token' ? form.get('refresh_token') : null;
        if (refreshToken) await refreshes.run(refreshToken, () => input.provider(replayRequest(req, body), res));
        else await input.provider(replayRequest(req, body), res);
      }
    }
  }
}

function formOf(req: IncomingMessage, body: Buffer): URLSearchParams | undefined {
  const contentType = req.headers['content-type'] ?? '';
  if (!contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) return undefined;
  return new URLSearchParams(body.toString('utf8'));
}

/**
 * Runs refreshes that present the same refresh token one after the other.
 *
 * oidc-provider reads a refresh token, then awaits several lookups before marking it consumed.
 * With this in-memory store those awaits happen not to yield to another request, so today two
 * racing refreshes already resolve as one winner and one reuse; but that is an accident of the
 * storage and of oidc-provider's internals, not a guarantee. Were they to interleave, both
 * requests would succeed and fork the grant into two live token chains. Real providers with
 * strict rotation do not forgive that race (RFC 9700 §4.14.2; Xero, GitHub in PROVIDERS.md),
 * and the sandbox must not either, or a broken single-flight refresh in Tokenkeeper could pass
 * its tests. Serialised, the later request always sees the token consumed, and reuse detection
 * revokes the grant.
 */
class RefreshSerializer {
  readonly #tails = new Map<string, Promise<void>>();

  async run(refreshToken: string, task: () => Promise<void>): Promise<void> {
    const previous = this.#tails.get(refreshToken) ?? Promise.resolve();
    const current = previous.then(task);
    const tail = current.catch(() => {});
    this.#tails.set(refreshToken, tail);
    try {
      await current;
    } finally {
      if (this.#tails.get(refreshToken) === tail) this.#tails.delete(refreshToken);
    }
  }
}

/** A fresh IncomingMessage on the same socket with the same head, whose body is `body`. */
function replayRequest(original: IncomingMessage, body: Buffer): IncomingMessage {
  const replay = new IncomingMessage(original.socket);
  replay.method = original.method;
  replay.url = original.url;
  replay.httpVersion = original.httpVersion;
  replay.httpVersionMajor = original.httpVersionMajor;
  replay.httpVersionMinor = original.httpVersionMinor;
  replay.headers = original.headers;
  replay.rawHeaders = original.rawHeaders;
  replay.complete = true;
  replay.push(body);
  replay.push(null);
  return replay;
}

/**
 * A Koa middleware (installed with `provider.use`) that bends successful token responses for
 * the `omitExpiresIn` and `expiresInValue` switches. It runs after oidc-provider has issued and
 * stored the tokens, so only what the client is told changes, never what the tokens are.
 */
export function tokenResponseFaults(faults: () => SandboxFaults): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || ctx.path !== '/token' || ctx.status !== 200) return;
    const body = ctx.body;
    if (body === null || typeof body !== 'object') return;
    const current = faults();
    const response = body as Record<string, unknown>;
    if (current.omitExpiresIn) delete response.expires_in;
    else if (current.expiresInValue !== null) response.expires_in = current.expiresInValue;
  };
}
