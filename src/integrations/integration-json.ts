import type { IntegrationRecord } from '../store/index.ts';

/**
 * What an operator needs to know first about an integration: `disabled` (they turned it off),
 * `failing` (the provider rejects its own credentials — see `IntegrationService.markFailing`) or
 * `ok`. Disabled wins: a disabled integration makes no calls, so whether it fails does not matter
 * until it is enabled again (and enabling it is an update, which clears the failure).
 */
export type IntegrationStatus = 'ok' | 'failing' | 'disabled';

export function integrationStatus(record: IntegrationRecord): IntegrationStatus {
  if (!record.enabled) return 'disabled';
  return record.failingSince === null ? 'ok' : 'failing';
}

/** The public shape of an integration: never the client secret, only whether one is set. */
export function integrationToJson(record: IntegrationRecord, callbackUrl: string): Record<string, unknown> {
  return {
    id: record.id,
    key: record.key,
    provider: record.provider,
    display_name: record.displayName,
    client_id: record.clientId,
    has_client_secret: record.clientSecretSealed !== null,
    scopes: record.scopes,
    redirect_uri: record.redirectUri ?? callbackUrl,
    settings: record.settings,
    refresh_buffer_seconds: record.refreshBufferSeconds,
    system_grant: record.systemGrant,
    system_scopes: record.systemScopes,
    enabled: record.enabled,
    actions_enabled: record.actionsEnabled,
    status: integrationStatus(record),
    failure:
      record.failingSince === null
        ? null
        : { code: record.failureCode, message: record.failureMessage, since: new Date(record.failingSince).toISOString() },
    created_at: new Date(record.createdAt).toISOString(),
    updated_at: new Date(record.updatedAt).toISOString(),
  };
}
