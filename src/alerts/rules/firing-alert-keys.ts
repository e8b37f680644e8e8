import type { Clock } from '../../clock.ts';
import type { Database } from '../../store/index.ts';
import type { RaiseListener } from '../alert-service.ts';
import { firingKeysOf } from './rule-queries.ts';

export interface FiringAlertKeysOptions {
  db: Database;
  clock: Clock;
  /** The alert types the view is about. */
  types: readonly string[];
  /** How long one read of the alert table answers for; older, the next question reads again. */
  maxAgeMs: number;
  /** The most keys it keeps; with more firing, it rules nothing out until its next read. */
  maxKeys: number;
}

/**
 * Which keys have a firing alert of some types, as this instance last read them. It lets the
 * busiest listener of the rules, `token.refreshed` resolving `connection_refresh_failing` and
 * `token_expired_while_active` (close to 200 times a second while a sweep works a backlog), skip
 * its read of the alert table when no such alert can be firing for the connection — nearly
 * always: one read per `maxAgeMs` instead of one per refresh, a round trip less per refresh.
 *
 * What it can miss, and why that is safe:
 * - A raise by this instance, never: `AlertService` tells the view as a raise begins (the key is
 *   added at once), and a read that overlapped a raise is not trusted, since the raise may have
 *   committed after the read's snapshot.
 * - A raise by another instance (the `alert-rules` check runs wherever its tick was claimed) is
 *   seen at this instance's next read, at most `maxAgeMs` later. A refresh here within that window
 *   leaves the alert firing, and the next check resolves it: its condition no longer holds. That
 *   is the outcome of a race that already exists, a refresh landing between a check's read and
 *   its raise (reconcile-alerts.ts), over a window of `maxAgeMs` instead of milliseconds.
 * - A key whose alert was resolved stays in the view until the next read: one needless read.
 */
export class FiringAlertKeys {
  private readonly options: FiringAlertKeysOptions;
  /** The keys firing at the last trusted read; null when no read may be trusted. */
  private keys: Set<string> | null = null;
  /** When the last read began (a read answers for the state at its start). */
  private readAt = Number.NEGATIVE_INFINITY;
  /** Raises of these types begun by this instance, and those not yet ended. */
  private raisesBegun = 0;
  private raisesUnderway = 0;
  private reading: Promise<void> | null = null;

  constructor(options: FiringAlertKeysOptions) {
    this.options = options;
  }

  /**
   * False only when a read younger than `maxAgeMs`, and every raise here since, say that `key`
   * has no firing alert of these types. Reads again first when the last read is too old; a read
   * that fails rules nothing out.
   */
  async mayFire(key: string): Promise<boolean> {
    const age = this.options.clock.now() - this.readAt;
    // (A clock set back makes the age negative: read again rather than trust the read longer.)
    if (age >= this.options.maxAgeMs || age < 0) await this.read().catch(() => undefined);
    return this.keys === null || this.keys.has(key);
  }

  /** Reads the firing keys now (the `alert-rules` check does after reconciling); joins a read under way. */
  read(): Promise<void> {
    this.reading ??= this.readOnce().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  /** For `AlertService.onRaise`: a raise of one of these types begins (and ends with the returned call). */
  readonly raising: RaiseListener = ({ type, key }) => {
    if (!this.options.types.includes(type)) return;
    this.raisesBegun++;
    this.raisesUnderway++;
    this.keys?.add(key);
    return () => {
      this.raisesUnderway--;
    };
  };

  private async readOnce(): Promise<void> {
    const { db, clock, types, maxKeys } = this.options;
    const startedAt = clock.now();
    const begun = this.raisesBegun;
    const quiet = this.raisesUnderway === 0;
    try {
      const found = await firingKeysOf(db, types, maxKeys + 1);
      // A raise under way when the read began, or begun during it, may be missing from what it found.
      const trusted = quiet && begun === this.raisesBegun && found.complete;
      this.keys = trusted ? new Set(found.rows) : null;
    } catch (error) {
      this.keys = null;
      throw error;
    } finally {
      this.readAt = startedAt;
    }
  }
}
