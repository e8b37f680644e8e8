import { createHash } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { TokenResult } from '../tokens/index.ts';

/** The token service calls the renewal needs. */
export interface RenewableTokens {
  getToken(id: string): Promise<TokenResult>;
  /** A forced refresh that answers with the stored token instead once that is not the refused one. */
  refreshRefused(id: string, refusedAccessToken: string): Promise<TokenResult>;
}

interface Renewal {
  /** Digest of the token the provider refused. */
  from: string;
  /** Digest of the token the refresh gave, once it has. */
  to: string | null;
  /** Whether the provider has taken `to` at least once (then a later 401 for it is news). */
  toAccepted: boolean;
  settledAt: number | null;
  failed: boolean;
  promise: Promise<TokenResult>;
}

/**
 * How long a token that a 401-driven refresh has just issued, and that the provider has never
 * taken, is not refreshed again because of another 401: a provider that refuses fresh tokens too
 * (a missing scope, a suspended account) is not helped by a refresh per call, and would get one
 * per call otherwise. A token the provider did take and refuses later is refreshed at once.
 */
export const FRESH_TOKEN_GRACE_MS = 60_000;
/**
 * How long a failed refresh answers the 401s of its token with its own error. The proxy forces
 * refreshes (no cooldown applies to them), so without it a provider outage would get one refresh
 * attempt per proxied call.
 */
export const FAILED_RENEWAL_MEMORY_MS = 5_000;
const MAX_REMEMBERED = 10_000;

/**
 * The proxy's answer to a provider's 401: one forced refresh per refused token, whoever asks.
 *
 * The race it guards: fifty calls go out with token T, the provider refuses T, and fifty 401s
 * come back spread over some milliseconds. Those that arrive while the refresh is in flight
 * could join it (the token service's in-process single flight), but those that arrive after it
 * has finished would each force a new one — rotating the refresh token fifty times. So the
 * renewal is keyed by the refused token: every 401 for T shares the one refresh that replaced
 * T, in flight or done, and retries with its result. A 401 for a token that another instance
 * already replaced (the row changed under us) takes the current token without a refresh.
 *
 * Across instances the lease serialises refreshes, and that is not enough on its own: two
 * instances that see T refused at the same moment both read T, and the second may take the lease
 * only after the first has replaced T and let go — a forced refresh would then rotate again. So
 * the refresh is `refreshRefused`, which carries T's digest into the refresh path and compares it
 * with the stored token before the lease, under it (on the row the lease statement returned) and
 * after waiting for another holder: once the stored token is not T, that token is the answer and
 * the provider is not called. One refresh per refused token, whichever instances see the 401.
 *
 * Tokens are kept as SHA-256 digests only: this map never holds a usable token.
 */
export class TokenRenewals {
  private readonly renewals = new Map<string, Renewal>();
  private readonly tokens: RenewableTokens;
  private readonly clock: Clock;

  constructor(tokens: RenewableTokens, clock: Clock) {
    this.tokens = tokens;
    this.clock = clock;
  }

  /**
   * After the provider answered 401 to `refusedToken`: the token to retry with (fresh from a
   * refresh, this call's or a concurrent one's), or null when a retry would not help (the
   * refused token is the one a refresh just issued). A failed refresh throws its error
   * (`connection_needs_reauth`, `provider_unavailable` …).
   */
  async renew(connectionId: string, refusedToken: string): Promise<TokenResult | null> {
    const refused = digest(refusedToken);
    const known = this.renewals.get(connectionId);
    if (known?.from === refused && !this.expiredFailure(known)) return known.promise;
    if (known?.to === refused && !known.toAccepted && known.settledAt !== null && this.clock.now() - known.settledAt < FRESH_TOKEN_GRACE_MS) return null;

    // Another instance (or an earlier call here) may have replaced the token already.
    const current = await this.tokens.getToken(connectionId);
    if (digest(current.accessToken) !== refused) return current;
    // Someone may have started the refresh while we read.
    const started = this.renewals.get(connectionId);
    if (started?.from === refused && !this.expiredFailure(started)) return started.promise;

    const renewal: Renewal = { from: refused, to: null, toAccepted: false, settledAt: null, failed: false, promise: this.tokens.refreshRefused(connectionId, refusedToken) };
    this.remember(connectionId, renewal);
    renewal.promise.then(
      (result) => {
        renewal.to = digest(result.accessToken);
        renewal.settledAt = this.clock.now();
      },
      () => {
        renewal.failed = true;
        renewal.settledAt = this.clock.now();
      },
    );
    return renewal.promise;
  }

  /**
   * The provider answered something other than 401 to `token`. Cheap when there is nothing to
   * learn: a digest is computed only while the connection's last renewal is unconfirmed.
   */
  accepted(connectionId: string, token: string): void {
    const renewal = this.renewals.get(connectionId);
    if (renewal && renewal.to !== null && !renewal.toAccepted && digest(token) === renewal.to) renewal.toAccepted = true;
  }

  private expiredFailure(renewal: Renewal): boolean {
    return renewal.failed && renewal.settledAt !== null && this.clock.now() - renewal.settledAt >= FAILED_RENEWAL_MEMORY_MS;
  }

  private remember(connectionId: string, renewal: Renewal): void {
    this.renewals.delete(connectionId);
    if (this.renewals.size >= MAX_REMEMBERED) {
      // Oldest first (a Map keeps insertion order); only settled ones can go.
      for (const [id, entry] of this.renewals) {
        if (this.renewals.size < MAX_REMEMBERED / 2) break;
        if (entry.settledAt !== null) this.renewals.delete(id);
      }
    }
    this.renewals.set(connectionId, renewal);
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
