import type { Clock } from '../clock.ts';
import { TokenkeeperError } from '../errors.ts';
import { newId } from '../ids.ts';
import {
  activeSilences,
  countAlertHappening,
  expireSilenceRows,
  findAlertRow,
  findSilence,
  insertSilence,
  listAlertRows,
  listSilences,
  resolveAlertRow,
  upsertAlert,
  type AlertQuery,
  type AlertRecord,
  type Database,
  type SilenceMatcher,
  type SilenceRecord,
} from '../store/index.ts';
import { isSeverity, type Severity } from './channel.ts';
import { groupOf, type AlertPolicy } from './policy.ts';

/** What a rule raises. `key` identifies the thing (a connection id, an integration key, a channel name). */
export interface RaiseAlert {
  type: string;
  key: string;
  severity: Severity;
  /** String labels: integration, provider, owner, connection, … (`integration` groups by default). */
  labels?: Record<string, string>;
  /** One human sentence about this alert. */
  summary: string;
}

/**
 * Told when a raise of (type, key) begins, before its write; the function it returns, if any, is
 * called when the raise has ended (written or failed). Lets an in-process view of the firing
 * alerts (alerts/rules/firing-alert-keys.ts) never miss a raise made by this instance.
 */
export type RaiseListener = (alert: { type: string; key: string }) => (() => void) | void;

export interface AlertServiceDeps {
  db: Database;
  clock: Clock;
  policy: Pick<AlertPolicy, 'groupWaitMs' | 'groupBy'>;
}

const NAME = /^[a-z][a-z0-9_.-]{0,63}$/;
const MAX_KEY = 200;
const MAX_LABELS = 20;

/**
 * Operator alerts as state (issue 8, item 1). Raising writes the alert and nothing else: it never
 * sends, so a slow or failing channel can never delay or break the code that raised it
 * (invariant 7); the notification policy engine (`AlertNotifier`) reads the table on its own
 * schedule. Raising is idempotent by (type, key) across every instance on the database.
 */
export class AlertService {
  private readonly deps: AlertServiceDeps;
  private readonly raiseListeners = new Set<RaiseListener>();

  constructor(deps: AlertServiceDeps) {
    this.deps = deps;
  }

  /** Adds a listener of this instance's raises; returns its remover. */
  onRaise(listener: RaiseListener): () => void {
    this.raiseListeners.add(listener);
    return () => void this.raiseListeners.delete(listener);
  }

  /** Fires (or keeps firing) the alert (type, key); returns the stored alert. */
  async raise(input: RaiseAlert): Promise<AlertRecord> {
    const labels = checkAlertInput(input);
    const ended = [...this.raiseListeners].map((listener) => listener({ type: input.type, key: input.key }));
    try {
      return await this.write(input, labels);
    } finally {
      for (const end of ended) end?.();
    }
  }

  private async write(input: RaiseAlert, labels: Record<string, string>): Promise<AlertRecord> {
    const group = groupOf(input.type, labels, this.deps.policy.groupBy);
    const id = newId('alr');
    const now = this.deps.clock.now();
    const alert = await upsertAlert(this.deps.db, {
      id,
      type: input.type,
      key: input.key,
      severity: input.severity,
      labels,
      summary: input.summary.slice(0, 500),
      groupKey: group.key,
      groupLabels: group.labels,
      now,
      groupWaitMs: this.deps.policy.groupWaitMs,
    });
    // An existing row that kept its first-seen time was firing already: this raise was merged
    // into it (de-duplicated), which `GET /v1/alerts/stats` counts. Counting never fails a raise.
    if (alert.id !== id && alert.firstSeenAt < now) await countAlertHappening(this.deps.db, 'deduplicated', input.type, now).catch(() => undefined);
    return alert;
  }

  /** The condition cleared: resolves the alert if it is firing (false if it was not). */
  resolve(type: string, key: string): Promise<boolean> {
    return resolveAlertRow(this.deps.db, type, key, this.deps.clock.now());
  }

  list(query: AlertQuery = {}): Promise<AlertRecord[]> {
    return listAlertRows(this.deps.db, query);
  }

  get(type: string, key: string): Promise<AlertRecord | null> {
    return findAlertRow(this.deps.db, type, key);
  }

  /**
   * Creates a silence: alerts matching every matcher (`type`, `severity` or a label name, equal
   * values) between `startsAt` (default now) and `endsAt` are recorded but not sent.
   */
  async silence(input: { matchers: SilenceMatcher[]; endsAt: number; startsAt?: number; createdBy: string; comment?: string }): Promise<SilenceRecord> {
    const now = this.deps.clock.now();
    const startsAt = input.startsAt ?? now;
    if (!Number.isSafeInteger(input.endsAt) || !Number.isSafeInteger(startsAt) || input.endsAt <= Math.max(startsAt, now)) {
      throw new TokenkeeperError('invalid_request', 'A silence must end after it starts and in the future.');
    }
    for (const matcher of input.matchers) {
      if (typeof matcher?.name !== 'string' || typeof matcher.value !== 'string' || matcher.name === '') {
        throw new TokenkeeperError('invalid_request', 'Each matcher needs a name (type, severity or a label name) and a value.');
      }
      if (matcher.name === 'severity' && !isSeverity(matcher.value)) {
        throw new TokenkeeperError('invalid_request', `severity matchers take LOW, MEDIUM or HIGH, not ${JSON.stringify(matcher.value)}.`);
      }
    }
    return insertSilence(this.deps.db, {
      id: newId('sil'),
      matchers: input.matchers.map(({ name, value }) => ({ name, value })),
      startsAt,
      endsAt: input.endsAt,
      createdBy: input.createdBy.slice(0, 200),
      comment: (input.comment ?? '').slice(0, 1000),
      createdAt: now,
    });
  }

  /** Maintenance: silences every alert until `endsAt` (a silence without matchers). */
  silenceAll(input: { endsAt: number; createdBy: string; comment?: string }): Promise<SilenceRecord> {
    return this.silence({ matchers: [], ...input });
  }

  /** Ends the global silences ("silence everything") in force or pending; returns how many. */
  async restore(): Promise<number> {
    const now = this.deps.clock.now();
    const global = (await listSilences(this.deps.db, { activeAt: now })).filter((silence) => silence.matchers.length === 0);
    return expireSilenceRows(this.deps.db, global.map((silence) => silence.id), now);
  }

  /** Expires one silence now (kept for history); false if it was unknown or already over. */
  async expireSilence(id: string): Promise<boolean> {
    return (await expireSilenceRows(this.deps.db, [id], this.deps.clock.now())) > 0;
  }

  /** Silences, newest first; `active: true` keeps those in force or still to start. */
  listSilences(options: { active?: boolean } = {}): Promise<SilenceRecord[]> {
    return listSilences(this.deps.db, options.active ? { activeAt: this.deps.clock.now() } : {});
  }

  findSilence(id: string): Promise<SilenceRecord | null> {
    return findSilence(this.deps.db, id);
  }

  activeSilences(): Promise<SilenceRecord[]> {
    return activeSilences(this.deps.db, this.deps.clock.now());
  }
}

function checkAlertInput(input: RaiseAlert): Record<string, string> {
  if (typeof input.type !== 'string' || !NAME.test(input.type)) {
    throw new TokenkeeperError('invalid_request', `An alert type is lower-case letters, digits and _ . -, not ${JSON.stringify(input.type)}.`);
  }
  if (typeof input.key !== 'string' || input.key === '' || input.key.length > MAX_KEY) {
    throw new TokenkeeperError('invalid_request', `An alert key is 1-${MAX_KEY} characters.`);
  }
  if (!isSeverity(input.severity)) throw new TokenkeeperError('invalid_request', `An alert severity is LOW, MEDIUM or HIGH, not ${JSON.stringify(input.severity)}.`);
  const labels: Record<string, string> = {};
  const entries = Object.entries(input.labels ?? {});
  if (entries.length > MAX_LABELS) throw new TokenkeeperError('invalid_request', `An alert has at most ${MAX_LABELS} labels.`);
  for (const [name, value] of entries) {
    if (!NAME.test(name) || typeof value !== 'string') throw new TokenkeeperError('invalid_request', `Label ${JSON.stringify(name)} must be a lower-case name with a string value.`);
    labels[name] = value.slice(0, 200);
  }
  return labels;
}
