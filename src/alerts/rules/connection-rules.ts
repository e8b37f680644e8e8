import type { ConnectionRecord, Database } from '../../store/index.ts';
import type { RaiseAlert } from '../alert-service.ts';
import { CONNECTION_NEEDS_REAUTH, CONNECTION_REFRESH_FAILING, TOKEN_EXPIRED_WHILE_ACTIVE } from './built-in-alerts.ts';
import type { RuleFindings } from './reconcile-alerts.ts';
import { connectionsExpiredBefore, connectionsFailingSince, connectionsNeedingReauth, type ConnectionFacts } from './rule-queries.ts';

/**
 * The per-connection rules (key: the connection id; labels: integration, provider, owner):
 * `connection_needs_reauth`, `connection_refresh_failing`, `token_expired_while_active`. Each
 * builds its alert from the same facts whether an event or the periodic check raises it, so both
 * paths write the same alert.
 */

/** The most rows one rule reads per check (see `Rows.complete`). */
export const RULE_ROW_LIMIT = 10_000;

export function connectionLabels(facts: Pick<ConnectionFacts, 'integrationKey' | 'provider' | 'ownerId' | 'kind'>): Record<string, string> {
  return {
    integration: facts.integrationKey,
    provider: facts.provider,
    ...(facts.ownerId !== null ? { owner: facts.ownerId } : {}),
    ...(facts.kind === 'system' ? { kind: 'system' } : {}),
  };
}

/** "connection con_1 (owner u-42, rita@example.com) of google" */
function named(facts: ConnectionFacts): string {
  const who = [facts.kind === 'system' ? 'system connection' : facts.ownerId !== null ? `owner ${facts.ownerId}` : null, facts.accountLabel].filter(Boolean).join(', ');
  return `connection ${facts.id}${who ? ` (${who})` : ''} of ${facts.integrationKey}`;
}

function iso(ms: number | null): string {
  return ms === null ? 'an unknown time' : new Date(ms).toISOString();
}

/**
 * MEDIUM, or HIGH for a system connection: the application itself, not one user, has lost
 * access. (A system connection minted by client credentials cannot be re-authorized by a user;
 * it is reported as `system_token_missing` instead, see integration-rules.ts.)
 */
export function needsReauthAlert(facts: ConnectionFacts): RaiseAlert {
  return {
    type: CONNECTION_NEEDS_REAUTH,
    key: facts.id,
    severity: facts.kind === 'system' ? 'HIGH' : 'MEDIUM',
    labels: connectionLabels(facts),
    summary: `${named(facts)} needs re-authorization${facts.statusReason ? `: ${facts.statusReason}` : ''}`,
  };
}

export function refreshFailingAlert(facts: ConnectionFacts): RaiseAlert {
  return {
    type: CONNECTION_REFRESH_FAILING,
    key: facts.id,
    severity: 'MEDIUM',
    labels: connectionLabels(facts),
    summary: `${named(facts)}: refreshes failing since ${iso(facts.failingSince)}${facts.lastErrorMessage ? ` (last error: ${facts.lastErrorMessage})` : ''}`,
  };
}

export function tokenExpiredAlert(facts: ConnectionFacts): RaiseAlert {
  return {
    type: TOKEN_EXPIRED_WHILE_ACTIVE,
    key: facts.id,
    severity: 'HIGH',
    labels: connectionLabels(facts),
    summary:
      `${named(facts)} is ${facts.status} but its access token expired at ${iso(facts.expiresAt)} and was not refreshed` +
      (facts.lastErrorMessage ? ` (last error: ${facts.lastErrorMessage})` : ': the refresher has not tried'),
  };
}

/** A needs_reauth connection this rule reports: every one but client-credentials system connections. */
export function isReauthConnection(facts: Pick<ConnectionFacts, 'kind' | 'clientCredentials'>): boolean {
  return !(facts.kind === 'system' && facts.clientCredentials);
}

export async function findNeedsReauth(db: Database): Promise<RuleFindings> {
  const { rows, complete } = await connectionsNeedingReauth(db, RULE_ROW_LIMIT);
  return { type: CONNECTION_NEEDS_REAUTH, holding: new Map(rows.filter(isReauthConnection).map((facts) => [facts.id, needsReauthAlert(facts)])), complete };
}

/** `inhibited(integrationKey)`: an integration-wide alert speaks for its connections. */
export async function findRefreshFailing(db: Database, failingBefore: number, inhibited: (integrationKey: string) => boolean): Promise<RuleFindings> {
  const { rows, complete } = await connectionsFailingSince(db, failingBefore, RULE_ROW_LIMIT);
  return {
    type: CONNECTION_REFRESH_FAILING,
    holding: new Map(rows.map((facts) => [facts.id, refreshFailingAlert(facts)])),
    complete,
    inhibited: (alert) => inhibited(alert.labels!.integration!),
  };
}

/**
 * An expired token is the refresher's failure only when there was a way to renew it: a refresh
 * token, or client credentials for a system connection. A connection without either is moved to
 * `needs_reauth` by the sweep (and reported as such).
 */
export async function findTokenExpired(
  db: Database,
  expiredBefore: number,
  canRenew: (record: ConnectionRecord, facts: ConnectionFacts) => boolean,
  inhibited: (integrationKey: string) => boolean,
): Promise<RuleFindings> {
  const { rows, complete } = await connectionsExpiredBefore(db, expiredBefore, RULE_ROW_LIMIT);
  const holding = new Map<string, RaiseAlert>();
  for (const { record, facts } of rows) if (canRenew(record, facts)) holding.set(facts.id, tokenExpiredAlert(facts));
  return { type: TOKEN_EXPIRED_WHILE_ACTIVE, holding, complete, inhibited: (alert) => inhibited(alert.labels!.integration!) };
}
