import { createHash, timingSafeEqual } from 'node:crypto';
import type { RefreshRequest } from './refresh-request.ts';
import type { CacheEntry } from './token-cache.ts';
import { isValidFor } from './validity-rules.ts';

/**
 * SHA-256 of an access token, for a refresh that a provider's refusal of that token asked for
 * (the proxy's 401, `TokenService.refreshRefused`). Only the digest travels with the request: the
 * refresh path never holds, logs or stores the refused token itself.
 */
export function accessTokenDigest(accessToken: string): Buffer {
  return createHash('sha256').update(accessToken).digest();
}

/**
 * Whether the stored token set holds an access token other than the refused one: then a holder
 * (this process or another instance) has replaced the refused token since it was handed out, and
 * refreshing again would only rotate the refresh token once more. Digests of equal length,
 * compared in constant time.
 */
export function replacesRefused(entry: CacheEntry, refusedDigest: Buffer): boolean {
  const current = entry.tokens?.access_token;
  if (!current) return false;
  return !timingSafeEqual(accessTokenDigest(current), refusedDigest);
}

/**
 * Whether the stored token answers `request` without a refresh: a token valid for what it needs,
 * unless the request is forced. A forced request that a refused token asked for is answered by a
 * valid stored token that is not the refused one: the provider refused *that* token, and another
 * holder has replaced it. One rule for the three places that look at the row on the refresh path
 * (refresh-runner.ts before and under the lease, holder-wait.ts after the holder is done).
 */
export function storedTokenAnswers(entry: CacheEntry, request: RefreshRequest, needMs: number, now: number): boolean {
  if (request.force && !(request.refusedTokenDigest && replacesRefused(entry, request.refusedTokenDigest))) return false;
  return isValidFor(entry, needMs, now);
}
