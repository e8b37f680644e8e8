import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isSilenced, severityRank } from '../alerts/index.ts';
import { errorRegistry, isTokenkeeperError, isTransientError, type ErrorCode } from '../errors.ts';
import { isId } from '../ids.ts';
import { integrationStatus } from '../integrations/index.ts';
import type { Tokenkeeper } from '../service.ts';
import { actionsSwitchBannerFor, hasActions, switchActionsFromForm } from './actions-switch-form.ts';
import { renderHomePage, type Banner, type ConnectionRow } from './home-page.ts';
import { renderMessagePage } from './message-page.ts';
import { BASIC_CHALLENGE, hasDashboardPassword, pageAccess } from './page-access.ts';
import { sendHtmlPage } from './page-headers.ts';
import { isAllowedPageHost } from './page-host.ts';
import { isSameOriginPost } from './same-origin.ts';
import { SignInThrottle } from './sign-in-throttle.ts';
import { silenceBannerFor, silenceFromForm } from './silence-form.ts';

const DEFAULT_OWNER_ID = 'demo-user';
const MAX_CONNECTIONS = 500;
/** Firing alerts and stuck connections listed on the page; the API lists all. */
const MAX_ALERTS = 200;
const MAX_STUCK = 200;
const FORM_LIMIT_BYTES = 4096;

/** Friendlier words than the registry's for outcomes a person sees on this page. */
const BANNER_MESSAGES: Partial<Record<ErrorCode, string>> = {
  access_denied: 'Access was not granted at the provider, so nothing was connected. Press Connect to try again.',
  invalid_request: 'The owner id must be 1-200 printable characters without spaces.',
  integration_disabled: 'That integration is disabled; enable it before connecting.',
  integration_not_found: 'That integration no longer exists.',
};

/**
 * The first page: `/` lists firing alerts (each with a Silence button), stuck connections,
 * integrations (each with a Connect button) and connections (status, owner, a live expiry
 * countdown); `POST /ui/connect` starts the connect flow for the owner typed on the page and
 * sends the browser to the connect link; `POST /ui/alerts/silence` silences one alert and comes
 * back with a banner; `POST /ui/integrations/actions` turns an integration's actions off or on
 * (its kill switch) and comes back with a banner; `GET /ui/connections.json` feeds the countdown fresh expiry times.
 * Server-rendered, one small inline script, and every form works without it.
 *
 * Access follows `pageAccess`: open in development, absent in production unless a dashboard
 * password is set (then HTTP Basic, with wrong guesses throttled per address). Either way the
 * pages answer only under the configured host names (`isAllowedPageHost`, against DNS
 * rebinding). The routes live in their own Fastify scope so the form body parser and the
 * access hook touch nothing else.
 */
export function registerPages(app: FastifyInstance, tk: Tokenkeeper): void {
  const access = pageAccess(tk.config);
  if (access.kind === 'off') return;
  const { publicUrl } = tk.config;
  const basePath = new URL(publicUrl).pathname.replace(/\/+$/, '');
  const throttle = new SignInThrottle(tk.clock);

  app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT_BYTES }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8'))));
    });

    scope.addHook('onRequest', async (request, reply) => {
      reply.header('cache-control', 'no-store');
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'same-origin');
      if (!isAllowedPageHost(request.headers.host, publicUrl)) {
        // The Host is not echoed: it is whatever the requesting page chose.
        return sendPage(
          reply,
          errorRegistry.host_not_allowed.status,
          renderMessagePage({
            title: 'Wrong address',
            message: `This page answers only at ${publicUrl}/ (or under localhost on this machine).`,
            code: 'host_not_allowed',
            ok: false,
            hint: 'If that is the address you used, set TOKENKEEPER_PUBLIC_URL to it; behind a reverse proxy, pass the original Host header on.',
          }),
        );
      }
      if (access.kind === 'password') {
        const address = request.ip;
        const waitMs = throttle.retryAfterMs(address);
        if (waitMs > 0) return sendSignInBlocked(reply, waitMs);
        if (!hasDashboardPassword(request.headers.authorization, access.password)) {
          // A request without credentials is how every visit starts (the browser then asks): not a guess.
          if (request.headers.authorization !== undefined) {
            const { failures, retryAfterMs } = throttle.recordFailure(address);
            tk.logger.warn('dashboard sign-in failed', { address, failures, retry_after_seconds: Math.ceil(retryAfterMs / 1000) });
          }
          return sendPage(
            reply.header('www-authenticate', BASIC_CHALLENGE),
            401,
            renderMessagePage({
              title: 'Sign-in required',
              message: 'This page is protected by the dashboard password (TOKENKEEPER_DASHBOARD_PASSWORD). Any username works.',
              code: 'dashboard_unauthorized',
              ok: false,
            }),
          );
        }
        throttle.recordSuccess(address);
      }
    });

    scope.setErrorHandler((error, _request, reply) => {
      const code = pageErrorCode(error);
      const status = errorRegistry[code].status;
      if (status >= 500) {
        if (isTransientError(code)) tk.logger.warn('page failed', { code, error });
        else tk.logger.error('page failed', { code, error });
      }
      return sendPage(reply, status, renderMessagePage({ title: 'Something went wrong', message: errorRegistry[code].message, code, ok: false }));
    });

    scope.get('/', async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      const nowMs = tk.clock.now();
      const [integrations, listed, firing, silences, stuck] = await Promise.all([
        tk.integrations.list(),
        tk.connections.list({ limit: String(MAX_CONNECTIONS) }),
        // The same reads as GET /v1/alerts?state=firing and GET /v1/stuck.
        tk.alerts.list({ state: 'firing', limit: MAX_ALERTS + 1 }),
        tk.alerts.activeSilences(),
        tk.stuck.list(),
      ]);
      const alerts = firing
        .slice(0, MAX_ALERTS)
        .sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || a.firstSeenAt - b.firstSeenAt || compareText(a.type, b.type) || compareText(a.key, b.key))
        .map((alert) => ({
          type: alert.type,
          key: alert.key,
          severity: alert.severity,
          labels: alert.labels,
          summary: alert.summary,
          firstSeenAt: alert.firstSeenAt,
          escalated: alert.escalated,
          silenced: isSilenced(silences, alert),
        }));
      const keys = new Map(integrations.map((integration) => [integration.id, integration.key]));
      const connections: ConnectionRow[] = listed.records
        .map((record) => ({
          id: record.id,
          integrationKey: keys.get(record.integrationId) ?? '?',
          ownerId: record.ownerId,
          kind: record.kind,
          accountLabel: record.accountLabel,
          accountId: record.accountId,
          status: record.status,
          statusReason: record.statusReason,
          expiresAt: record.expiresAt,
        }))
        .reverse();
      const nonce = randomBytes(16).toString('base64');
      const highlightId = isId(query.connection_id, 'con') ? query.connection_id : null;
      const html = renderHomePage({
        integrations: integrations.map((integration) => ({
          key: integration.key,
          provider: integration.provider,
          displayName: integration.displayName,
          enabled: integration.enabled,
          status: integrationStatus(integration),
          failure: integration.failingSince === null ? null : { code: integration.failureCode ?? '', message: integration.failureMessage ?? '', since: integration.failingSince },
          actions: hasActions(tk, integration) ? { enabled: integration.actionsEnabled } : null,
        })),
        connections,
        truncated: listed.next !== null,
        alerts,
        alertsTruncated: firing.length > MAX_ALERTS,
        stuck: stuck.slice(0, MAX_STUCK),
        stuckTruncated: stuck.length > MAX_STUCK,
        banner: (await silenceBannerFor(query, tk, firing)) ?? (await actionsSwitchBannerFor(query, tk)) ?? bannerFor(query, connections.find((c) => c.id === highlightId) ?? null),
        highlightId,
        basePath,
        env: tk.config.env,
        nowMs,
        nonce,
        defaultOwnerId: DEFAULT_OWNER_ID,
        devApiKeyPath: tk.config.env === 'development' ? join(tk.config.dataDir, 'dev-api-key') : null,
        publicUrl,
      });
      return sendPage(reply, 200, html, nonce);
    });

    scope.get('/ui/connections.json', async () => {
      const listed = await tk.connections.list({ limit: String(MAX_CONNECTIONS) });
      const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
      return {
        now: new Date(tk.clock.now()).toISOString(),
        connections: listed.records.map((record) => ({
          id: record.id,
          status: record.status,
          status_reason: record.statusReason,
          expires_at: iso(record.expiresAt),
        })),
      };
    });

    scope.post('/ui/connect', async (request: FastifyRequest, reply) => {
      if (!isSameOriginPost(request.headers, publicUrl, request.protocol)) return sendCrossOriginRefused(reply, publicUrl, 'Connect');
      const form = (request.body && typeof request.body === 'object' ? request.body : {}) as Record<string, unknown>;
      const integration = typeof form.integration === 'string' ? form.integration : '';
      const ownerId = typeof form.owner_id === 'string' ? form.owner_id.trim() : '';
      try {
        const session = await tk.connect.createSession({ integration, owner_id: ownerId, redirect_to: `${publicUrl}/` });
        // 303: the browser follows with a GET (RFC 9110 §15.4.4).
        return reply.redirect(session.connectUrl, 303);
      } catch (error) {
        if (isTokenkeeperError(error) && error.status < 500) return reply.redirect(`${basePath}/?error=${encodeURIComponent(error.code)}`, 303);
        throw error;
      }
    });

    scope.post('/ui/alerts/silence', async (request: FastifyRequest, reply) => {
      if (!isSameOriginPost(request.headers, publicUrl, request.protocol)) return sendCrossOriginRefused(reply, publicUrl, 'Silence');
      const form = (request.body && typeof request.body === 'object' ? request.body : {}) as Record<string, unknown>;
      const outcome = await silenceFromForm(tk, form);
      // 303 back to the page (post/redirect/get), whose banner reads the silence back from storage.
      const query = 'silenceId' in outcome ? `silenced=${outcome.silenceId}` : `silence_error=${outcome.problem}`;
      return reply.redirect(`${basePath}/?${query}`, 303);
    });

    scope.post('/ui/integrations/actions', async (request: FastifyRequest, reply) => {
      if (!isSameOriginPost(request.headers, publicUrl, request.protocol)) return sendCrossOriginRefused(reply, publicUrl, 'Turn actions off (or on)');
      const form = (request.body && typeof request.body === 'object' ? request.body : {}) as Record<string, unknown>;
      const outcome = await switchActionsFromForm(tk, form);
      // 303 back to the page (post/redirect/get), whose banner reads the switch back from storage.
      const query = 'integrationKey' in outcome ? `actions_switched=${encodeURIComponent(outcome.integrationKey)}` : `actions_error=${outcome.problem}`;
      return reply.redirect(`${basePath}/?${query}`, 303);
    });
  });
}

/** 403 for a form posted from anywhere but the page itself (see `isSameOriginPost`). */
function sendCrossOriginRefused(reply: FastifyReply, publicUrl: string, button: string): FastifyReply {
  return sendPage(
    reply,
    403,
    renderMessagePage({
      title: 'Request refused',
      message: 'This form can only be sent from the Tokenkeeper page itself (the Origin or Referer header did not match).',
      code: 'cross_origin_request',
      ok: false,
      hint: `Open ${publicUrl}/ and press ${button} there.`,
    }),
  );
}

/**
 * The banner after a round trip: the callback appends `connection_id` and `status`
 * (`connected` | `reconnected`) on success, or `error=<code>`. Only known codes get a message;
 * the page never echoes free text from the query string (a crafted link could otherwise put
 * words in Tokenkeeper's mouth).
 */
function bannerFor(query: Record<string, unknown>, connection: ConnectionRow | null): Banner | null {
  const error = query.error;
  if (typeof error === 'string' && error !== '') {
    const code = /^[a-z_]{1,64}$/.test(error) && error in errorRegistry ? (error as ErrorCode) : null;
    return {
      ok: false,
      title: code === 'access_denied' ? 'Not connected' : 'The connection did not complete',
      message: code ? (BANNER_MESSAGES[code] ?? errorRegistry[code].message) : 'An unknown error was reported.',
      code: code ?? undefined,
    };
  }
  if (typeof query.connection_id === 'string') {
    const reconnected = query.status === 'reconnected';
    const who = connection ? (connection.accountLabel ?? connection.accountId) : null;
    return {
      ok: true,
      title: reconnected ? 'Account reconnected' : 'Account connected',
      message: connection
        ? `${who ?? 'The account'} is ${reconnected ? 'connected again' : 'connected'} through ${connection.integrationKey} for ${connection.ownerId ?? 'the system'}. Its token is kept fresh from now on.`
        : 'The connection was stored.',
    };
  }
  return null;
}

/** Code-point order, the same on every machine (unlike `localeCompare`). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A stable code for whatever went wrong in a page route (Fastify's body errors included). */
function pageErrorCode(error: unknown): ErrorCode {
  if (isTokenkeeperError(error)) return error.code;
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (status === 413) return 'payload_too_large';
  if (status === 415) return 'unsupported_media_type';
  if (typeof status === 'number' && status >= 400 && status < 500) return 'invalid_request';
  return 'internal_error';
}

/** The dashboard's pages: the common page headers, with the referrer policy its Connect form needs. */
function sendPage(reply: FastifyReply, status: number, html: string, nonce?: string): FastifyReply {
  return sendHtmlPage(reply, status, html, { nonce, referrerPolicy: 'same-origin' });
}

/** 429 with `Retry-After` in seconds (RFC 6585 §4, RFC 9110 §10.2.3). */
function sendSignInBlocked(reply: FastifyReply, waitMs: number): FastifyReply {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return sendPage(
    reply.header('retry-after', String(seconds)),
    errorRegistry.dashboard_rate_limited.status,
    renderMessagePage({
      title: 'Too many attempts',
      message: `Too many wrong passwords came from your address. Try again in ${seconds} seconds.`,
      code: 'dashboard_rate_limited',
      ok: false,
    }),
  );
}
