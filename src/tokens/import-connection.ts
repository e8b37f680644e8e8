import type { Clock } from '../clock.ts';
import { TokenkeeperError } from '../errors.ts';
import { parseScopeList } from '../input-values.ts';
import type { IntegrationService } from '../integrations/index.ts';
import type { TokenSet } from '../oauth/index.ts';
import { isStorableTime, type ConnectionRecord } from '../store/index.ts';
import { isValidOwnerId, type ConnectionService } from './connection-service.ts';

/**
 * Metadata is the caller's own small JSON (a CRM id, a plan name), returned as given. Bounded so
 * that one import cannot make every later read of the row expensive, and so that nothing
 * downstream recurses into it without end: `JSON.stringify` overflows the stack on an object
 * nested ~5,000 levels deep, which JSON.parse still accepts.
 */
const METADATA_MAX_DEPTH = 8;
export const METADATA_MAX_BYTES = 8_192;

const FIELDS = new Set([
  'integration', 'owner_id', 'kind', 'access_token', 'refresh_token', 'id_token', 'token_type', 'expires_in', 'expires_at',
  'scopes', 'account_id', 'account_label', 'metadata',
]);

/**
 * `POST /v1/connections`: import an existing token set (migrating from another system, or
 * server-side provisioning). Validated completely before anything is written.
 */
export async function importConnection(
  body: unknown,
  deps: { integrations: IntegrationService; connections: ConnectionService; clock: Clock },
): Promise<{ record: ConnectionRecord; reconnected: boolean; integrationKey: string; provider: string }> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new TokenkeeperError('invalid_request', 'The body must be a JSON object.');
  const input = body as Record<string, unknown>;
  const problems: string[] = [];
  for (const field of Object.keys(input)) if (!FIELDS.has(field)) problems.push(`unknown field "${field}"`);
  const kind = input.kind ?? 'user';
  if (kind !== 'user' && kind !== 'system') problems.push('kind must be "user" or "system"');
  if (typeof input.integration !== 'string' || input.integration === '') problems.push('integration is required');
  if (kind === 'user' && !isValidOwnerId(input.owner_id)) problems.push('owner_id is required: 1-200 printable characters without spaces');
  if (kind === 'system' && input.owner_id !== undefined && input.owner_id !== null) problems.push('a system connection has no owner_id');
  const str = (field: string, required: boolean): string | null => {
    const value = input[field];
    if (value === undefined || value === null) {
      if (required) problems.push(`${field} is required`);
      return null;
    }
    if (typeof value !== 'string' || value.length === 0 || value.length > 16_384) {
      problems.push(`${field} must be a non-empty string`);
      return null;
    }
    return value;
  };
  const accessToken = str('access_token', true);
  const refreshToken = str('refresh_token', false);
  const idToken = str('id_token', false);
  const tokenType = str('token_type', false) ?? 'Bearer';
  const accountId = str('account_id', false);
  const accountLabel = str('account_label', false);
  const now = deps.clock.now();
  let expiresAt: number | null = null;
  if (input.expires_in !== undefined && input.expires_at !== undefined) problems.push('give expires_in or expires_at, not both');
  if (input.expires_in !== undefined && input.expires_in !== null) {
    if (typeof input.expires_in !== 'number' || !Number.isFinite(input.expires_in) || input.expires_in <= 0) {
      problems.push('expires_in must be a positive number of seconds');
    } else if (!isStorableTime(now + Math.floor(input.expires_in * 1000))) {
      // Checked, not clamped: a lifetime of millennia is a unit mistake (ms for s) or garbage,
      // and storing it would also make the row unreadable (src/store/time-bounds.ts).
      problems.push('expires_in must be a positive number of seconds that ends by 9999-12-31');
    } else expiresAt = now + Math.floor(input.expires_in * 1000);
  }
  if (input.expires_at !== undefined && input.expires_at !== null) {
    const parsed = typeof input.expires_at === 'string' ? Date.parse(input.expires_at) : Number.NaN;
    if (!Number.isFinite(parsed)) problems.push('expires_at must be an ISO 8601 date-time');
    else if (!isStorableTime(parsed)) problems.push('expires_at must be between 1970-01-01 and 9999-12-31');
    else expiresAt = parsed;
  }
  let scopes: string[] | null = null;
  if (input.scopes !== undefined && input.scopes !== null) {
    scopes = parseScopeList(input.scopes);
    if (scopes === null) problems.push('scopes must be an array of strings or a space-separated string');
  }
  let metadata: Record<string, unknown> = {};
  if (input.metadata !== undefined && input.metadata !== null) {
    if (typeof input.metadata !== 'object' || Array.isArray(input.metadata)) problems.push('metadata must be an object');
    else if (nestedDeeperThan(input.metadata, METADATA_MAX_DEPTH)) problems.push(`metadata must not be nested more than ${METADATA_MAX_DEPTH} levels deep`);
    else if (Buffer.byteLength(JSON.stringify(input.metadata)) > METADATA_MAX_BYTES) problems.push('metadata must be at most 8 KiB of JSON');
    else metadata = input.metadata as Record<string, unknown>;
  }
  if (problems.length > 0) throw new TokenkeeperError('invalid_request', `Invalid connection: ${problems.join('; ')}.`, { details: { problems } });

  const integration = await deps.integrations.resolveByKey(input.integration as string);
  const tokens: TokenSet = {
    accessToken: accessToken!,
    refreshToken,
    idToken,
    tokenType,
    expiresAt,
    scopes,
    extra: {},
  };
  const saved = await deps.connections.saveTokenSet({
    integration,
    ownerId: kind === 'user' ? (input.owner_id as string) : null,
    kind: kind as 'user' | 'system',
    tokens,
    // The original issue time is unknown; counting from now would overstate the lifetime, so
    // leave it unknown (the refresh buffer then applies uncapped).
    issuedAt: null,
    identity: accountId ? { accountId, label: accountLabel } : null,
    imported: true,
    metadata,
  });
  return { ...saved, integrationKey: integration.record.key, provider: integration.provider.key };
}

/**
 * Whether a parsed JSON value has objects or arrays nested more than `maxDepth` levels (the
 * value itself is level 1). Iterative, with an explicit stack, so a hostile depth cannot
 * overflow the call stack while it is being measured.
 */
function nestedDeeperThan(value: unknown, maxDepth: number): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > maxDepth) return true;
    for (const child of Object.values(current)) pending.push([child, depth + 1]);
  }
  return false;
}
