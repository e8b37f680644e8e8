import type { RefreshTrigger } from '../events.ts';
import type { ConnectionRecord, IntegrationRecord } from '../store/index.ts';
import type { CacheEntry } from './token-cache.ts';

/** One caller's refresh, as the single-flight map, the lease holder and waiters see it. */
export interface RefreshRequest {
  trigger: RefreshTrigger;
  /**
   * How long the resulting token must stay valid, for the row as it is when checked (0 for a
   * forced refresh). A function, not a number: the buffer is capped by the lifetime the provider
   * granted, which a row being minted or just refreshed by another holder only knows later.
   */
  needMs(record: ConnectionRecord, integration: IntegrationRecord): number;
  /** Refresh whatever the remaining validity (`POST /v1/connections/:id/refresh`, idle exercise). */
  force: boolean;
  /**
   * With `force`: the SHA-256 of the access token a provider refused, which is why this refresh
   * runs (refused-token.ts). A stored token other than that one, valid for `needMs`, is then the
   * answer instead of a refresh: another holder replaced the refused token first.
   */
  refusedTokenDigest?: Buffer;
  /** Calls to the provider within this refresh, retries included (the sweep makes one). */
  maxAttempts: number;
  /** How long to wait for the integration's rate limiter, under the lease (and never past it). */
  rateWaitMs: number;
  /**
   * The row as this caller read it from the database a moment ago, in the same call (a cache
   * miss), if it did: the refresh path's first read of the row would only read it again, so it
   * takes this one instead. Used once, by a refresh that starts at once: not by one that runs
   * after another flight of this process, nor by a retry after waiting for another holder.
   */
  readNow?: ConnectionRecord;
}

export interface RefreshOutcome {
  entry: CacheEntry;
  /** Whether this call (or the holder it waited for) obtained a new token set from the provider. */
  refreshed: boolean;
}
