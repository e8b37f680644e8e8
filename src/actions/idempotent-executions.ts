import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { KeyRing } from '../crypto/index.ts';
import { TokenkeeperError, type ErrorCode, errorRegistry } from '../errors.ts';
import {
  claimActionExecution,
  closeStaleActionExecution,
  finishActionExecution,
  findActionExecution,
  releaseActionExecution,
  type ActionExecutionRecord,
  type Database,
} from '../store/index.ts';
import { sleep } from '../tokens/index.ts';

/** How long an execution's answer is kept for its Idempotency-Key (issue 9, item 9). */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;

/** The Idempotency-Key header's value: 1–255 visible ASCII characters (draft-ietf-httpapi-idempotency-key-header). */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * What an execution answered, as kept for its key: a success's JSON, or an error's code, message
 * and details (re-thrown as the same error, under the replaying request's own request id).
 */
export type StoredAnswer =
  | { kind: 'ok'; body: Record<string, unknown> }
  | { kind: 'error'; code: ErrorCode; message: string; details: Record<string, unknown> | undefined; retryAfterMs: number | null };

/** One execution's hold on its key. */
export interface IdempotencyClaim {
  id: string;
  token: string;
}

/** What `begin` found: the key is this execution's to run, or an answer to give again. */
export type Begun = { run: IdempotencyClaim } | { replay: StoredAnswer };

export interface IdempotentExecutionsOptions {
  db: Database;
  keyRing: KeyRing;
  clock: Clock;
  /**
   * How long a claim holds: longer than an execution can take (token refresh, the provider's
   * timeout per attempt, the retries and their waits). A claim older than that belongs to an
   * execution that died; it is closed as `timeout`, never run again.
   */
  claimTtlMs: number;
  /** How often a caller waiting for another execution with its key looks again. Default 100 ms. */
  pollMs?: number;
}

/**
 * Exactly once for the caller: an `execute` with an Idempotency-Key stores its outcome for 24 h,
 * and a retry with the same key (on any instance: the claim is a row, and the primary key lets
 * exactly one insert win) gets that outcome without anything being sent again.
 *
 * The key is scoped to the connection and the action, and stored only as a digest. With it goes
 * a digest of the validated input: the same key with another input is `422
 * idempotency_key_reused`, as with Stripe's keys, because answering the first input's outcome
 * to a different request would be wrong, and sending it would break the promise.
 *
 * While the first execution runs, a second caller with the key waits for its answer (polling
 * the row) rather than being refused, up to the claim's lifetime; its caller going away ends
 * the wait. An execution whose instance died mid-call leaves a claim that outlives its TTL; the
 * next caller closes it as `timeout` — the provider may or may not have acted, and sending again
 * could do it twice.
 *
 * Outcomes where nothing reached the provider (disabled, invalid input, the connection needs its
 * user, no token, the circuit open, a rate limit) give the key back: a retry with it runs anew.
 * So does a 429, which says the provider did not process the request (RFC 6585 §4).
 */
export class IdempotentExecutions {
  private readonly options: IdempotentExecutionsOptions;

  constructor(options: IdempotentExecutionsOptions) {
    this.options = options;
  }

  /** `400 invalid_request` for a key that is not 1–255 visible ASCII characters. */
  static checkKey(key: string): void {
    if (!KEY_PATTERN.test(key)) {
      throw new TokenkeeperError('invalid_request', 'The Idempotency-Key header must be 1 to 255 visible ASCII characters (a UUID works well).', {
        details: { problems: ['Idempotency-Key must be 1 to 255 visible ASCII characters'] },
      });
    }
  }

  /** Claims the key for this execution, or finds the answer to give again (waiting for a running one). */
  async begin(scope: { connectionId: string; action: string; key: string; input: unknown }, signal?: AbortSignal): Promise<Begun> {
    const { db, clock, claimTtlMs } = this.options;
    const id = digest(`${scope.connectionId}\n${scope.action}\n${scope.key}`);
    const requestDigest = digest(canonicalJson(scope.input));
    const token = randomBytes(12).toString('base64url');
    const now = clock.now();
    const claimed = await claimActionExecution(db, {
      id,
      connectionId: scope.connectionId,
      action: scope.action,
      requestDigest,
      claimToken: token,
      claimedUntil: now + claimTtlMs,
      createdAt: now,
      expiresAt: now + IDEMPOTENCY_WINDOW_MS,
    });
    if (claimed.claimed) return { run: { id, token } };
    let row: ActionExecutionRecord | null = claimed.existing;
    if (row.requestDigest !== requestDigest) {
      throw new TokenkeeperError('idempotency_key_reused', undefined, { details: { action: scope.action } });
    }
    const deadline = clock.now() + claimTtlMs;
    let pollMs = this.options.pollMs ?? 100;
    for (;;) {
      if (row === null) return this.begin(scope, signal); // given back meanwhile: run it now
      if (row.state === 'done' && row.answerSealed !== null) return { replay: this.open(row) };
      if (row.claimedUntil !== null && row.claimedUntil < clock.now()) {
        const answer = staleAnswer();
        await closeStaleActionExecution(db, id, clock.now(), 'timeout', this.seal(id, answer));
      } else {
        if (clock.now() >= deadline) {
          throw new TokenkeeperError('idempotency_key_in_use', undefined, { retryAfterMs: 1_000, details: { action: scope.action } });
        }
        await sleep(pollMs, signal);
        if (signal?.aborted) throw new TokenkeeperError('idempotency_key_in_use', 'The caller went away while waiting for the execution with its Idempotency-Key.');
        pollMs = Math.min(pollMs * 2, 1_000);
      }
      row = await findActionExecution(db, id);
    }
  }

  /** Stores the execution's answer under its key; false when the claim was closed meanwhile (it took longer than its TTL). */
  async finish(claim: IdempotencyClaim, outcome: string, answer: StoredAnswer): Promise<boolean> {
    return finishActionExecution(this.options.db, claim.id, claim.token, outcome, this.seal(claim.id, answer));
  }

  /** Gives the key back: nothing was sent, so a retry with it may run. */
  async release(claim: IdempotencyClaim): Promise<void> {
    await releaseActionExecution(this.options.db, claim.id, claim.token);
  }

  private seal(id: string, answer: StoredAnswer): string {
    return this.options.keyRing.seal(JSON.stringify(answer), `action_executions:${id}:answer`);
  }

  private open(row: ActionExecutionRecord): StoredAnswer {
    return JSON.parse(this.options.keyRing.open(row.answerSealed!, `action_executions:${row.id}:answer`)) as StoredAnswer;
  }
}

/** The answer kept for an execution that died with the key claimed. */
function staleAnswer(): StoredAnswer {
  return {
    kind: 'error',
    code: 'proxy_timeout',
    message: 'The execution with this Idempotency-Key did not finish (its instance stopped); the provider may or may not have acted on the request.',
    details: { outcome: 'timeout' },
    retryAfterMs: null,
  };
}

/** The error a stored failure stands for, marked as given again. */
export function replayedError(answer: Extract<StoredAnswer, { kind: 'error' }>): TokenkeeperError {
  const code: ErrorCode = answer.code in errorRegistry ? answer.code : 'internal_error';
  return new TokenkeeperError(code, answer.message, {
    details: { ...answer.details, replayed: true },
    ...(answer.retryAfterMs !== null ? { retryAfterMs: answer.retryAfterMs } : {}),
  });
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/** JSON with object keys sorted at every depth: the same input digests the same whatever its key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}
