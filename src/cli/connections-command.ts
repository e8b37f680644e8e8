import { TokenkeeperError } from '../errors.ts';
import { connectionToJson } from '../tokens/index.ts';
import { findConnection, findIntegrationById, type ConnectionRecord } from '../store/index.ts';
import type { Tokenkeeper } from '../service.ts';
import { integerFlag, parseCommandArgs } from './command.ts';
import { formatJson, formatRelative, formatTable, formatTimestamp } from './format.ts';
import { EXIT_OK, type CliIo } from './io.ts';
import { requireConnectionId } from './connection-id.ts';
import { withTokenkeeper } from './open-tokenkeeper.ts';
import { runSubcommand } from './subcommands.ts';

const USAGE = `Usage: tokenkeeper connections <subcommand>

Connections are accounts connected through an integration, for one owner (your app's user id)
or for the app itself (system). Tokens are never shown here; fetch them through the API.

Subcommands:
  list [--integration <key>] [--owner <id>] [--status <status>] [--json]
  show <id> [--json]      one connection with its recent events
  delete <id>             revoke at the provider (RFC 7009) where supported, then delete

Run \`tokenkeeper connections <subcommand> --help\` for details.
`;

const LIST_USAGE = `Usage: tokenkeeper connections list [options]

Lists connections, oldest first: id, integration, owner, status, when the access token
expires and when it was last refreshed.

Options:
  --integration <key>   only this integration's connections
  --owner <id>          only this owner's connections
  --status <status>     only: pending, active, degraded, needs_reauth or revoked
  --kind <kind>         only: user or system
  --limit <n>           at most n (1-500, default 100)
  --after <cursor>      continue after a previous page (the cursor is printed when there is more)
  --json                print {data, next} as JSON (the API's shape)
  -h, --help            show this help
`;

const SHOW_USAGE = `Usage: tokenkeeper connections show <id> [--json]

Shows one connection (con_…): status and why, provider account, scopes, expiry, refresh
bookkeeping, last error, metadata, and its 20 most recent events. Never a token.

Options:
  --json       print {connection, events} as JSON
  -h, --help   show this help
`;

const DELETE_USAGE = `Usage: tokenkeeper connections delete <id>

Deletes a connection (con_…). Where the provider has a revocation endpoint, its tokens are
revoked there first (RFC 7009); the connection is deleted even if that fails, and the output
says whether the provider confirmed.

Options:
  -h, --help   show this help
`;

export async function runConnectionsCommand(argv: string[], io: CliIo): Promise<number> {
  return runSubcommand('connections', USAGE, argv, io, { list, show, delete: remove });
}

async function list(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('connections list', argv, {
    integration: { type: 'string' },
    owner: { type: 'string' },
    status: { type: 'string' },
    kind: { type: 'string' },
    limit: { type: 'string' },
    after: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) return help(io, LIST_USAGE);
  const limit = integerFlag('connections list', 'limit', values.limit, 1, 500);
  return withTokenkeeper(io, async (tk) => {
    if (values.integration !== undefined) await tk.integrations.getByKey(values.integration);
    const { records, next } = await tk.connections.list({
      integration: values.integration,
      owner_id: values.owner,
      status: values.status,
      kind: values.kind,
      limit: limit === undefined ? undefined : String(limit),
      after: values.after,
    });
    const names = await integrationNames(tk);
    const json = records.map((record) => toJson(record, names));
    if (values.json) {
      io.stdout(formatJson({ data: json, next }));
      return EXIT_OK;
    }
    if (records.length === 0) {
      io.stdout(values.integration || values.owner || values.status || values.kind || values.after ? 'No connections match.\n' : 'No connections yet.\n');
      return EXIT_OK;
    }
    const now = tk.clock.now();
    io.stdout(
      formatTable(
        ['id', 'integration', 'owner', 'status', 'expires', 'last refresh', 'account'],
        records.map((record) => [
          record.id,
          names.get(record.integrationId)?.key ?? '?',
          record.kind === 'system' ? '(system)' : (record.ownerId ?? '-'),
          record.status,
          record.expiresAt === null ? (record.tokensSealed ? 'never' : '-') : formatRelative(record.expiresAt, now),
          record.lastRefreshAt === null ? '-' : formatRelative(record.lastRefreshAt, now),
          record.accountLabel ?? record.accountId ?? '-',
        ]),
      ),
    );
    if (next) io.stderr(`More connections: add --after ${next}\n`);
    return EXIT_OK;
  });
}

async function show(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('connections show', argv, { json: { type: 'boolean' } }, {
    min: 1,
    max: 1,
    names: '<id> (con_…, see `tokenkeeper connections list`)',
  });
  if (values.help) return help(io, SHOW_USAGE);
  const id = requireConnectionId(positionals[0]!);
  return withTokenkeeper(io, async (tk) => {
    // Straight from storage: showing a connection must work while its provider is down.
    const record = await findConnection(tk.database.db, id);
    if (!record) throw new TokenkeeperError('connection_not_found', `No connection "${id}".`);
    const integration = await findIntegrationById(tk.database.db, record.integrationId);
    const json = connectionToJson(record, integration?.key ?? '', integration?.provider ?? '');
    // In the API's shape (snake_case, ISO times), older rows included; no provider involved.
    const events = await tk.connections.events(id, { limit: 20 });
    if (values.json) {
      const eventJson = events.map((event) => ({ id: event.id, type: event.type, data: event.data, created_at: new Date(event.createdAt).toISOString() }));
      io.stdout(formatJson({ connection: json, events: eventJson }));
      return EXIT_OK;
    }
    const now = tk.clock.now();
    const at = (ms: number | null): string => (ms === null ? '-' : `${formatTimestamp(ms)} (${formatRelative(ms, now)})`);
    const rows: [string, string][] = [
      ['integration', integration ? `${integration.key} (${integration.provider})` : '?'],
      ['owner', record.kind === 'system' ? '(system connection)' : (record.ownerId ?? '-')],
      ['status', record.statusReason ? `${record.status}: ${record.statusReason}` : record.status],
      ['account', record.accountId === null ? '-' : `${record.accountLabel ?? ''}${record.accountLabel ? ' ' : ''}(${record.accountId})`],
      ['token type', record.tokenType ?? '-'],
      ['scopes', record.scopes?.join(' ') ?? '-'],
      ['expires', record.expiresAt === null ? (record.tokensSealed ? 'does not expire' : '-') : at(record.expiresAt)],
      ['last refresh', at(record.lastRefreshAt)],
      ['failures', record.failureCount === 0 ? '0' : `${record.failureCount}; next attempt ${at(record.nextAttemptAt)}`],
      ['last error', record.lastErrorCode === null ? '-' : `${record.lastErrorCode}: ${record.lastErrorMessage ?? ''}`],
      ['metadata', Object.keys(record.metadata).length === 0 ? '-' : JSON.stringify(record.metadata)],
      ['created', at(record.createdAt)],
      ['updated', at(record.updatedAt)],
    ];
    const width = Math.max(...rows.map(([label]) => label.length));
    let text = `Connection ${record.id}\n` + rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}\n`).join('');
    if (events.length > 0) {
      text +=
        '\nRecent events (newest first):\n' +
        formatTable(
          ['time', 'event', 'details'],
          events.map((event) => [formatTimestamp(event.createdAt), event.type, Object.keys(event.data).length === 0 ? '' : JSON.stringify(event.data)]),
        )
          .split('\n')
          .map((line) => (line === '' ? line : `  ${line}`))
          .join('\n');
    }
    io.stdout(text);
    return EXIT_OK;
  });
}

async function remove(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('connections delete', argv, {}, {
    min: 1,
    max: 1,
    names: '<id> (con_…, see `tokenkeeper connections list`)',
  });
  if (values.help) return help(io, DELETE_USAGE);
  const id = requireConnectionId(positionals[0]!);
  return withTokenkeeper(io, async (tk) => {
    const outcome = await tk.connections.delete(id);
    let text = `Deleted connection ${id}.\n`;
    if (outcome.revokedAtProvider) text += 'The provider confirmed the revocation of its tokens.\n';
    else if (outcome.revocationError) text += `Revoking at the provider failed (${outcome.revocationError}); its tokens may stay valid there until they expire.\n`;
    else text += 'The tokens were not revoked at the provider (it has no revocation endpoint, or there were no tokens); they stay valid there until they expire.\n';
    io.stdout(text);
    return EXIT_OK;
  });
}

async function integrationNames(tk: Tokenkeeper): Promise<Map<string, { key: string; provider: string }>> {
  return new Map((await tk.integrations.list()).map((record) => [record.id, { key: record.key, provider: record.provider }]));
}

function toJson(record: ConnectionRecord, names: Map<string, { key: string; provider: string }>): Record<string, unknown> {
  const integration = names.get(record.integrationId);
  return connectionToJson(record, integration?.key ?? '', integration?.provider ?? '');
}

function help(io: CliIo, usage: string): number {
  io.stdout(usage);
  return EXIT_OK;
}
