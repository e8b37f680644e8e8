import type { Clock } from '../clock.ts';

/** Wrong passwords from one address that cost nothing (typos happen). */
const FREE_FAILURES = 5;
/** The block after the first failure past the free ones; it doubles with each further failure. */
const FIRST_BLOCK_MS = 1_000;
const MAX_BLOCK_MS = 15 * 60_000;
/** An address that has been quiet this long starts over. */
const FORGET_AFTER_MS = 60 * 60_000;
/** Bounds the memory an attacker with many addresses can make us hold. */
const MAX_ADDRESSES = 10_000;

interface Failures {
  count: number;
  lastFailureAt: number;
  blockedUntil: number;
}

/**
 * Slows down guessing of the dashboard password, per client address (OWASP ASVS V2.2.1: rate
 * limiting against automated guessing). After FREE_FAILURES wrong passwords, each further one
 * blocks the address for a delay that doubles, from 1 s up to 15 min, so that 500 guesses take
 * days instead of a second. While an address is blocked every attempt is refused without being
 * checked, so a right guess during a block is not revealed. A success forgets the address.
 *
 * Addresses are the TCP peer's (`trustProxy` is off): behind a reverse proxy all clients share
 * the proxy's, which makes the throttle coarser (one guesser slows everyone down) but never
 * weaker. Time comes from the injected clock.
 */
export class SignInThrottle {
  private readonly failures = new Map<string, Failures>();
  private readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Milliseconds until `address` may try again; 0 when it may now. */
  retryAfterMs(address: string): number {
    const entry = this.current(address);
    return entry ? Math.max(0, entry.blockedUntil - this.clock.now()) : 0;
  }

  /** Records a wrong password; returns the failures so far and the block it earned (0 for none). */
  recordFailure(address: string): { failures: number; retryAfterMs: number } {
    const now = this.clock.now();
    const count = (this.current(address)?.count ?? 0) + 1;
    const blockMs = count < FREE_FAILURES ? 0 : Math.min(MAX_BLOCK_MS, FIRST_BLOCK_MS * 2 ** (count - FREE_FAILURES));
    // Re-inserted so the map stays ordered by last failure and the oldest goes first when full.
    this.failures.delete(address);
    this.failures.set(address, { count, lastFailureAt: now, blockedUntil: now + blockMs });
    if (this.failures.size > MAX_ADDRESSES) this.failures.delete(this.failures.keys().next().value!);
    return { failures: count, retryAfterMs: blockMs };
  }

  recordSuccess(address: string): void {
    this.failures.delete(address);
  }

  private current(address: string): Failures | null {
    const entry = this.failures.get(address);
    if (!entry) return null;
    const now = this.clock.now();
    if (now >= entry.blockedUntil && now - entry.lastFailureAt > FORGET_AFTER_MS) {
      this.failures.delete(address);
      return null;
    }
    return entry;
  }
}
