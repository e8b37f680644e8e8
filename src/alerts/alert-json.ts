import type { AlertRecord, SilenceRecord } from '../store/index.ts';
import { isSilenced } from './policy.ts';

/**
 * The API's and the CLI's `--json` shape of an alert (snake_case, ISO 8601 times). `silenced`:
 * a silence in force now matches it, so it is recorded but not sent.
 */
export function alertToJson(alert: AlertRecord, activeSilences: readonly SilenceRecord[]): Record<string, unknown> {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: alert.id,
    type: alert.type,
    key: alert.key,
    severity: alert.severity,
    state: alert.state,
    labels: alert.labels,
    summary: alert.summary,
    group_key: alert.groupKey,
    first_seen_at: iso(alert.firstSeenAt),
    last_seen_at: iso(alert.lastSeenAt),
    resolved_at: iso(alert.resolvedAt),
    last_notified_at: iso(alert.lastNotifiedAt),
    notification_count: alert.notificationCount,
    escalated: alert.escalated,
    silenced: alert.state === 'firing' && isSilenced(activeSilences, alert),
  };
}
