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

/** `Authorization: Bearer <api key>` on everything under /v1 but the cron routes. */
export function requireApiKey(verifier: ApiKeyVerifier) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const key = bearer(request);
    if (!key || !(await verifier.verify(key))) throw new TokenkeeperError('unauthorized');
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
