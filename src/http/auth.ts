import type { FastifyReply, FastifyRequest } from 'fastify';
import { safeEqual } from '../crypto/index.ts';
import { TokenkeeperError } from '../errors.ts';
import type { ApiKeyVerifier } from './api-keys.ts';

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/**
 * `Authorization: Bearer <api key>` on everything under /v1 but the cron routes. Callback style
 * with a synchronous fast path: a key verified moments ago costs a map lookup and no promise.
 */
export function requireApiKey(verifier: ApiKeyVerifier) {
  return (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void => {
    const key = bearer(request);
    if (!key) return done(new TokenkeeperError('unauthorized'));
    if (verifier.verifyCached(key) !== undefined) return done();
    verifier.verify(key).then(
      (id) => done(id ? undefined : new TokenkeeperError('unauthorized')),
      (error: unknown) => done(error as Error),
    );
  };
}

/** The cron routes: `Authorization: Bearer <TOKENKEEPER_CRON_SECRET>`, compared in constant time. */
export function requireCronSecret(secret: string | null) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (secret === null) throw new TokenkeeperError('cron_disabled');
    const given = bearer(request);
    if (!given || !safeEqual(given, secret)) throw new TokenkeeperError('invalid_cron_secret');
  };
}

/**
 * `/metrics` with TOKENKEEPER_METRICS_TOKEN set: `Authorization: Bearer <token>`, compared in
 * constant time (a scraper's `bearer_token`). Unset, the metrics are open: they hold counts and
 * integration keys, never a secret, and a private network may not want another credential.
 */
export function requireMetricsToken(token: string | null) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (token === null) return;
    const given = bearer(request);
    if (!given || !safeEqual(given, token)) throw new TokenkeeperError('metrics_unauthorized');
  };
}
