import type { Database, IntegrationRecord } from '../../store/index.ts';
import type { RaiseAlert } from '../alert-service.ts';
import { INTEGRATION_CIRCUIT_OPEN, INTEGRATION_ERROR_RATE, INTEGRATION_FAILING, SYSTEM_TOKEN_MISSING } from './built-in-alerts.ts';
import type { RuleFindings } from './reconcile-alerts.ts';
import { refreshOutcomesSince, systemConnectionStates } from './rule-queries.ts';

/**
 * The integration-wide rules (key: the integration key; labels: integration, provider): one
 * alert for the integration, never one per connection, so a provider rejecting the app's
 * credentials is one message, not a thousand.
 */

type IntegrationRef = { integrationKey: string; provider: string };

const labelsOf = (ref: IntegrationRef): Record<string, string> => ({ integration: ref.integrationKey, provider: ref.provider });

/** HIGH: nothing of the integration works until its operator fixes the credentials. */
export function integrationFailingAlert(ref: IntegrationRef & { errorCode: string | null; reason: string | null; since: number | null }): RaiseAlert {
  return {
    type: INTEGRATION_FAILING,
    key: ref.integrationKey,
    severity: 'HIGH',
    labels: labelsOf(ref),
    summary:
      `the provider rejects the credentials of integration ${ref.integrationKey}` +
      (ref.since !== null ? ` since ${new Date(ref.since).toISOString()}` : '') +
      (ref.errorCode ? ` (${ref.errorCode}${ref.reason ? `: ${ref.reason}` : ''})` : '') +
      '; no refresh is attempted until the integration is updated',
  };
}

export function circuitOpenAlert(ref: IntegrationRef): RaiseAlert {
  return {
    type: INTEGRATION_CIRCUIT_OPEN,
    key: ref.integrationKey,
    severity: 'MEDIUM',
    labels: labelsOf(ref),
    summary: `the circuit breaker of integration ${ref.integrationKey} is open: ${ref.provider} failed repeatedly, and calls to it are paused`,
  };
}

export function errorRateAlert(ref: IntegrationRef & { failed: number; total: number; windowMs: number }): RaiseAlert {
  return {
    type: INTEGRATION_ERROR_RATE,
    key: ref.integrationKey,
    severity: 'MEDIUM',
    labels: labelsOf(ref),
    summary: `${Math.round((100 * ref.failed) / ref.total)} % of the refreshes of integration ${ref.integrationKey} failed in the last ${Math.round(ref.windowMs / 60_000)} min (${ref.failed} of ${ref.total})`,
  };
}

export function systemTokenMissingAlert(ref: IntegrationRef & { problem: string }): RaiseAlert {
  return {
    type: SYSTEM_TOKEN_MISSING,
    key: ref.integrationKey,
    severity: 'HIGH',
    labels: labelsOf(ref),
    summary: `integration ${ref.integrationKey} mints its system token by client credentials, but ${ref.problem}`,
  };
}

/** An integration whose own credentials are refused (and that is enabled: a disabled one is the operator's choice). */
export function findIntegrationFailing(integrations: readonly IntegrationRecord[]): RuleFindings {
  const holding = new Map<string, RaiseAlert>();
  for (const integration of integrations) {
    if (!integration.enabled || integration.failingSince === null) continue;
    const ref = { integrationKey: integration.key, provider: integration.provider };
    holding.set(integration.key, integrationFailingAlert({ ...ref, errorCode: integration.failureCode, reason: integration.failureMessage, since: integration.failingSince }));
  }
  return { type: INTEGRATION_FAILING, holding, complete: true };
}

/** `isOpen`: the breaker is open or half-open (calls paused, or one probe allowed). */
export function findCircuitOpen(integrations: readonly IntegrationRecord[], isOpen: (integration: IntegrationRecord) => boolean): RuleFindings {
  const holding = new Map<string, RaiseAlert>();
  for (const integration of integrations) {
    if (!integration.enabled || !isOpen(integration)) continue;
    holding.set(integration.key, circuitOpenAlert({ integrationKey: integration.key, provider: integration.provider }));
  }
  return { type: INTEGRATION_CIRCUIT_OPEN, holding, complete: true };
}

/** Failed refreshes at or above `rate` of at least `minRefreshes` in the window. */
export async function findErrorRate(
  db: Database,
  integrations: readonly IntegrationRecord[],
  settings: { since: number; windowMs: number; rate: number; minRefreshes: number },
  inhibited: (integrationKey: string) => boolean,
): Promise<RuleFindings> {
  const outcomes = await refreshOutcomesSince(db, settings.since);
  const holding = new Map<string, RaiseAlert>();
  for (const integration of integrations) {
    const outcome = outcomes.get(integration.key);
    if (!integration.enabled || !outcome) continue;
    const total = outcome.failed + outcome.succeeded;
    if (total < settings.minRefreshes || outcome.failed / total < settings.rate) continue;
    holding.set(
      integration.key,
      errorRateAlert({ integrationKey: integration.key, provider: integration.provider, failed: outcome.failed, total, windowMs: settings.windowMs }),
    );
  }
  return { type: INTEGRATION_ERROR_RATE, holding, complete: true, inhibited: (alert) => inhibited(alert.key) };
}

/**
 * An enabled integration configured for client credentials (`system_grant`) whose system
 * connection is absent, never minted, or revoked. Not while the integration itself is failing:
 * `integration_failing` says that. A system connection in `needs_reauth` (the provider refused
 * client credentials: a scope, a grant not allowed) is reported here, with the provider's reason,
 * rather than as a connection a user should re-authorize.
 *
 * The sweep mints the token: for `graceMs` after the integration last changed (or its pending
 * row was created) the alert is not raised, to give it that chance. The grace only holds back a
 * new alert; one already firing keeps firing until the token works, so an operator's edit that
 * did not fix it brings no resolution notice followed by a new alert.
 */
export async function findSystemTokenMissing(db: Database, now: number, graceMs: number): Promise<RuleFindings> {
  const holding = new Map<string, RaiseAlert>();
  const waiting = new Set<string>();
  for (const state of await systemConnectionStates(db)) {
    if (!state.enabled || state.failing) continue;
    const problem = systemTokenProblem(state);
    if (problem === null) continue;
    holding.set(state.integrationKey, systemTokenMissingAlert({ integrationKey: state.integrationKey, provider: state.provider, problem }));
    const changedAt = Math.max(state.integrationUpdatedAt, state.status === 'pending' ? (state.connectionCreatedAt ?? 0) : 0);
    if (changedAt > now - graceMs) waiting.add(state.integrationKey);
  }
  return { type: SYSTEM_TOKEN_MISSING, holding, complete: true, inhibited: (alert) => waiting.has(alert.key) };
}

/** What is wrong with an integration's system token, or null when its connection is active or degraded (usable). */
export function systemTokenProblem(state: { connectionId: string | null; status: string | null; statusReason: string | null }): string | null {
  if (state.connectionId === null) return 'it has no system connection (the sweep mints one: is it running?)';
  const reason = state.statusReason ? `: ${state.statusReason}` : '';
  if (state.status === 'needs_reauth') return `the provider refused to mint it (system connection ${state.connectionId}${reason})`;
  if (state.status === 'revoked') return `its system connection ${state.connectionId} is revoked`;
  if (state.status === 'pending') return `its system connection ${state.connectionId} has not been minted yet${reason}`;
  return null;
}
