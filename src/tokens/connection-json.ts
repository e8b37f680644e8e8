import type { ConnectionRecord } from '../store/index.ts';

const OWNER_PATTERN = /^[\x21-\x7e]{1,200}$/;

export function isValidOwnerId(value: unknown): value is string {
  return typeof value === 'string' && OWNER_PATTERN.test(value);
}

/** The public shape of a connection: no token, no lease internals. */
export function connectionToJson(record: ConnectionRecord, integrationKey: string, provider: string): Record<string, unknown> {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: record.id,
    integration: integrationKey,
    provider,
    owner_id: record.ownerId,
    kind: record.kind,
    status: record.status,
    status_reason: record.statusReason,
    account_id: record.accountId,
    account_label: record.accountLabel,
    token_type: record.tokenType,
    scopes: record.scopes,
    expires_at: iso(record.expiresAt),
    last_refresh_at: iso(record.lastRefreshAt),
    failure_count: record.failureCount,
    next_attempt_at: iso(record.nextAttemptAt),
    last_error: record.lastErrorCode === null ? null : { code: record.lastErrorCode, message: record.lastErrorMessage },
    metadata: record.metadata,
    created_at: iso(record.createdAt),
    updated_at: iso(record.updatedAt),
  };
}
