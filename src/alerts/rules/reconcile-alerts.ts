import type { Clock } from '../../clock.ts';
import type { Database } from '../../store/index.ts';
import type { AlertService, RaiseAlert } from '../alert-service.ts';
import { alertStates, resolveAlertsSeenBefore, touchFiringAlerts } from './rule-queries.ts';

/** What a rule found holding at one check: every alert it wants firing, by key. */
export interface RuleFindings {
  type: string;
  /** Every (type, key) whose condition holds now, inhibited or not. */
  holding: Map<string, RaiseAlert>;
  /** False when the rule could not read everything (a row limit): nothing is resolved then. */
  complete: boolean;
  /**
   * Holds, but another alert already says it (an integration-wide failure for one of its
   * connections): not raised; if it already fires it keeps firing until its own condition clears.
   */
  inhibited?: (alert: RaiseAlert) => boolean;
}

export interface ReconcileDeps {
  db: Database;
  clock: Clock;
  alerts: Pick<AlertService, 'raise'>;
}

/** A condition that keeps holding refreshes its alert's `last_seen_at` this often, not at every check. */
export const TOUCH_EVERY_MS = 5 * 60_000;

/**
 * Brings the alert table in line with what a rule found: raises what holds and is not firing,
 * resolves what fires and no longer holds. This is how a crash between a state change and its
 * event loses nothing: the next check raises the alert the event would have raised, and resolves
 * the one whose clearing event was lost.
 *
 * Races with the events (and with another instance's check), all settled by `startedAt`, when
 * the rule began reading the database: an alert an event raised after it is never resolved here
 * (the rule may not have seen the change behind it), and an alert an event resolved after it is
 * not raised again here (the rule may have read the state before the reconnect). Either is left
 * to the next check, which reads the newer state.
 */
export async function reconcileAlerts(deps: ReconcileDeps, findings: RuleFindings, startedAt: number): Promise<{ raised: number; resolved: number }> {
  const { db, clock } = deps;
  const states = await alertStates(db, [findings.type], startedAt);
  const firing = new Set<string>();
  const justResolved = new Set<string>();
  for (const state of states) {
    if (state.state === 'firing') firing.add(state.key);
    else justResolved.add(state.key);
  }
  let raised = 0;
  for (const [key, alert] of findings.holding) {
    if (firing.has(key) || justResolved.has(key) || findings.inhibited?.(alert)) continue;
    await deps.alerts.raise(alert);
    raised++;
  }
  let resolved = 0;
  if (findings.complete) {
    const cleared = [...firing].filter((key) => !findings.holding.has(key));
    resolved = await resolveAlertsSeenBefore(db, findings.type, cleared, startedAt, clock.now());
    // Every alert of the type still firing holds (or was raised since `startedAt`).
    await touchFiringAlerts(db, findings.type, Math.min(startedAt, clock.now() - TOUCH_EVERY_MS), clock.now());
  }
  return { raised, resolved };
}
