import { integrationStatus, integrationToJson } from '../integrations/index.ts';
import { listProviders } from '../providers/index.ts';
import { countConnectionsOfIntegration, type IntegrationRecord } from '../store/index.ts';
import { integerFlag, parseCommandArgs, UsageError } from './command.ts';
import { formatJson, formatTable, formatTimestamp } from './format.ts';
import { EXIT_OK, type CliIo } from './io.ts';
import { withTokenkeeper } from './open-tokenkeeper.ts';
import { runSubcommand } from './subcommands.ts';

const PROVIDER_KEYS = listProviders().map((provider) => provider.key);

const USAGE = `Usage: tokenkeeper integrations <subcommand>

Integrations are your configured uses of a provider: client id, client secret (stored
encrypted, never shown again), scopes and settings. Connections belong to an integration.

Subcommands:
  add --key <key> --provider <provider> --client-id <id> [options]   add an integration
  list [--json]                                                      list integrations
  show <key> [--json]                                                one integration and its health
  remove <key> [--force]                                             remove an integration

Run \`tokenkeeper integrations <subcommand> --help\` for details.
`;

const ADD_USAGE = `Usage: tokenkeeper integrations add --key <key> --provider <provider> --client-id <id> [options]

Adds an integration, validated exactly like POST /v1/integrations. Register the printed
redirect URI (<TOKENKEEPER_PUBLIC_URL>/oauth/callback) at the provider.

Options:
  --key <key>                  your name for it: lowercase letters, digits, "-" and "_"
  --provider <provider>        one of: ${PROVIDER_KEYS.join(', ')}
  --client-id <id>             the OAuth client id from the provider
  --client-secret-stdin        read the client secret from standard input (recommended;
                               prompts without echo on a terminal)
  --client-secret <secret>     the client secret on the command line (lands in shell history
                               and the process list: prefer --client-secret-stdin)
  --scopes "<a b>"             scopes to ask for, space- or comma-separated (default: the
                               provider's defaults)
  --setting <name>=<value>     a provider setting, repeatable: issuer, authorizationEndpoint,
                               tokenEndpoint, revocationEndpoint, userinfoEndpoint, tenant,
                               scopeSeparator, clientAuth, pkce (true/false),
                               defaultAccessTokenLifetimeSeconds, refreshTokenMaxIdleDays,
                               authorizationParams.<param>
                               e.g. --setting issuer=https://accounts.example.com
  --refresh-buffer <seconds>   refresh this long before expiry (default TOKENKEEPER_REFRESH_BUFFER)
  --system-grant client_credentials
                               keep a system connection minted with the client-credentials grant
  --system-scopes "<a b>"      scopes of that system connection
  --display-name <name>        a name shown on the web page
  --redirect-uri <url>         a redirect URI other than Tokenkeeper's own callback
  --json                       print the created integration as JSON
  -h, --help                   show this help

Example:
  printf %s "$GOOGLE_CLIENT_SECRET" | tokenkeeper integrations add --key google \\
    --provider google --client-id 1234.apps.googleusercontent.com --client-secret-stdin \\
    --scopes "openid email https://www.googleapis.com/auth/calendar.readonly"
`;

const LIST_USAGE = `Usage: tokenkeeper integrations list [--json]

Lists integrations: key, provider, client id, whether a client secret is set (never the secret),
scopes, enabled, and how many connections each has. Integrations whose credentials the provider
rejects are listed below the table with the provider's error.

Options:
  --json       print the list as JSON (the API's shape)
  -h, --help   show this help
`;

const SHOW_USAGE = `Usage: tokenkeeper integrations show <key> [--json]

Shows one integration: provider, client id, whether a client secret is set (never the secret),
scopes, settings, its status (ok, failing or disabled) and, when the provider rejects its
credentials, the provider's error and since when. Updating the integration (its client id or
secret) clears that state, and refreshes resume.

Options:
  --json       print the integration as the API returns it, with its connection count
  -h, --help   show this help
`;

const REMOVE_USAGE = `Usage: tokenkeeper integrations remove <key> [--force]

Removes an integration. One that still has connections is kept unless --force is given, which
deletes its connections with it (without revoking them at the provider; use
\`tokenkeeper connections delete <id>\` first to revoke).

Options:
  --force      also delete the integration's connections
  -h, --help   show this help
`;

export async function runIntegrationsCommand(argv: string[], io: CliIo): Promise<number> {
  return runSubcommand('integrations', USAGE, argv, io, { add, list, show, remove });
}

/** Settings whose values are not strings on the wire. */
const BOOLEAN_SETTINGS = new Set(['pkce']);
const NUMBER_SETTINGS = new Set(['defaultAccessTokenLifetimeSeconds', 'refreshTokenMaxIdleDays']);

/**
 * `--setting name=value` into the settings object. Values stay strings except for the few
 * settings that are typed (pkce and the number settings); `authorizationParams.x=y`
 * builds the nested object. Anything else is validated by the same code as the API.
 */
export function parseSettings(entries: string[]): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const entry of entries) {
    const equals = entry.indexOf('=');
    if (equals <= 0) throw new UsageError('integrations add', `--setting ${JSON.stringify(entry)} must look like name=value`);
    const name = entry.slice(0, equals).trim();
    const raw = entry.slice(equals + 1).trim();
    if (name.startsWith('authorizationParams.')) {
      const param = name.slice('authorizationParams.'.length);
      if (param === '') throw new UsageError('integrations add', '--setting authorizationParams.<param>=<value> needs a parameter name');
      const params = (settings.authorizationParams ??= {}) as Record<string, string>;
      params[param] = raw;
      continue;
    }
    let value: unknown = raw;
    if (BOOLEAN_SETTINGS.has(name)) {
      if (raw !== 'true' && raw !== 'false') throw new UsageError('integrations add', `--setting ${name} must be true or false`);
      value = raw === 'true';
    } else if (NUMBER_SETTINGS.has(name)) {
      value = raw === 'null' ? null : /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
    }
    settings[name] = value;
  }
  return settings;
}

async function add(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('integrations add', argv, {
    key: { type: 'string' },
    provider: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'client-secret-stdin': { type: 'boolean' },
    scopes: { type: 'string' },
    setting: { type: 'string', multiple: true },
    'refresh-buffer': { type: 'string' },
    'system-grant': { type: 'string' },
    'system-scopes': { type: 'string' },
    'display-name': { type: 'string' },
    'redirect-uri': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) return help(io, ADD_USAGE);
  const missing = (['key', 'provider', 'client-id'] as const).filter((flag) => values[flag] === undefined);
  if (missing.length > 0) {
    throw new UsageError('integrations add', `missing ${missing.map((flag) => `--${flag}`).join(', ')}`);
  }
  if (values['client-secret'] !== undefined && values['client-secret-stdin']) {
    throw new UsageError('integrations add', 'give --client-secret or --client-secret-stdin, not both');
  }
  if (values['system-grant'] !== undefined && values['system-grant'] !== 'client_credentials') {
    throw new UsageError('integrations add', `--system-grant must be client_credentials (got ${JSON.stringify(values['system-grant'])})`);
  }
  const refreshBuffer = integerFlag('integrations add', 'refresh-buffer', values['refresh-buffer'], 0, 86_400);
  const settings = parseSettings(values.setting ?? []);

  let clientSecret: string | undefined = values['client-secret'];
  if (clientSecret !== undefined) {
    io.stderr(
      'warning: --client-secret puts the secret in your shell history and in the process list. ' +
        'Prefer --client-secret-stdin, e.g. `printf %s "$SECRET" | tokenkeeper integrations add … --client-secret-stdin`.\n',
    );
  }
  if (values['client-secret-stdin']) {
    if (!io.readStdin) throw new UsageError('integrations add', '--client-secret-stdin: standard input is not available here');
    // A trailing newline comes from `echo` or the Enter key, never from the provider's secret.
    clientSecret = (await io.readStdin()).replace(/\r?\n$/, '');
    if (clientSecret === '') throw new UsageError('integrations add', '--client-secret-stdin: standard input was empty');
  }

  const body: Record<string, unknown> = {
    key: values.key,
    provider: values.provider,
    client_id: values['client-id'],
    settings,
  };
  if (clientSecret !== undefined) body.client_secret = clientSecret;
  if (values.scopes !== undefined) body.scopes = values.scopes;
  if (refreshBuffer !== undefined) body.refresh_buffer_seconds = refreshBuffer;
  if (values['system-grant'] !== undefined) body.system_grant = values['system-grant'];
  if (values['system-scopes'] !== undefined) body.system_scopes = values['system-scopes'];
  if (values['display-name'] !== undefined) body.display_name = values['display-name'];
  if (values['redirect-uri'] !== undefined) body.redirect_uri = values['redirect-uri'];

  return withTokenkeeper(io, async (tk) => {
    const record = await tk.integrations.create(body);
    const json = integrationToJson(record, tk.config.callbackUrl);
    if (values.json) {
      io.stdout(formatJson(json));
      return EXIT_OK;
    }
    io.stdout(
      `Added integration "${record.key}" (${record.provider}, ${record.id}).\n\n` +
        `  client id        ${record.clientId}\n` +
        `  client secret    ${record.clientSecretSealed === null ? 'none (public client)' : 'stored encrypted; it is never shown again'}\n` +
        `  scopes           ${record.scopes.length > 0 ? record.scopes.join(' ') : '(none)'}\n` +
        `  refresh buffer   ${record.refreshBufferSeconds} s\n` +
        (record.systemGrant ? `  system grant     ${record.systemGrant}\n` : '') +
        `  redirect URI     ${String(json.redirect_uri)}\n\n` +
        'Register that redirect URI at the provider, then run `tokenkeeper doctor` to check that its endpoints are reachable.\n',
    );
    return EXIT_OK;
  });
}

async function list(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('integrations list', argv, { json: { type: 'boolean' } });
  if (values.help) return help(io, LIST_USAGE);
  return withTokenkeeper(io, async (tk) => {
    const records = await tk.integrations.list();
    const counts = await Promise.all(records.map((record) => countConnectionsOfIntegration(tk.database.db, record.id)));
    if (values.json) {
      io.stdout(formatJson(records.map((record, index) => ({ ...integrationToJson(record, tk.config.callbackUrl), connections: counts[index] }))));
    } else if (records.length === 0) {
      io.stdout('No integrations yet. Add one with `tokenkeeper integrations add --help`.\n');
    } else {
      io.stdout(
        formatTable(
          ['key', 'provider', 'client id', 'secret', 'scopes', 'enabled', 'connections'],
          records.map((record, index) => [
            record.key,
            record.provider,
            record.clientId,
            record.clientSecretSealed === null ? 'no' : 'set',
            record.scopes.join(' ') || '-',
            record.enabled ? 'yes' : 'no',
            String(counts[index]),
          ]),
        ),
      );
      const failing = records.filter((record) => record.failingSince !== null);
      if (failing.length > 0) io.stdout(`\n${failing.map((record) => failureText(record)).join('\n')}\n`);
    }
    return EXIT_OK;
  });
}

async function show(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('integrations show', argv, { json: { type: 'boolean' } }, {
    min: 1,
    max: 1,
    names: '<key> (see `tokenkeeper integrations list`)',
  });
  if (values.help) return help(io, SHOW_USAGE);
  return withTokenkeeper(io, async (tk) => {
    const record = await tk.integrations.getByKey(positionals[0]!);
    const count = await countConnectionsOfIntegration(tk.database.db, record.id);
    const json = integrationToJson(record, tk.config.callbackUrl);
    if (values.json) {
      io.stdout(formatJson({ ...json, connections: count }));
      return EXIT_OK;
    }
    const settings = Object.entries(record.settings).map(([name, value]) => `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
    io.stdout(
      `${record.key} (${record.provider}, ${record.id})\n\n` +
        `  status           ${integrationStatus(record)}\n` +
        (record.failingSince !== null
          ? `  failing since    ${formatTimestamp(record.failingSince)}\n` +
            `  provider error   ${record.failureCode ?? '-'}: ${record.failureMessage ?? ''}\n`
          : '') +
        (record.displayName ? `  display name     ${record.displayName}\n` : '') +
        `  client id        ${record.clientId}\n` +
        `  client secret    ${record.clientSecretSealed === null ? 'none (public client)' : 'set (stored encrypted, never shown)'}\n` +
        `  scopes           ${record.scopes.length > 0 ? record.scopes.join(' ') : '(none)'}\n` +
        `  settings         ${settings.length > 0 ? settings.join(', ') : '(none)'}\n` +
        `  refresh buffer   ${record.refreshBufferSeconds} s\n` +
        (record.systemGrant ? `  system grant     ${record.systemGrant}\n` : '') +
        `  redirect URI     ${String(json.redirect_uri)}\n` +
        `  connections      ${count}\n` +
        `  updated          ${formatTimestamp(record.updatedAt)}\n` +
        (record.failingSince !== null ? `\n${failureText(record)}\n` : ''),
    );
    return EXIT_OK;
  });
}

/** The provider's own words and what to do about them: its connections wait, nobody reconnects. */
function failureText(record: IntegrationRecord): string {
  return (
    `${record.key} is failing since ${formatTimestamp(record.failingSince)}: the provider rejects its credentials ` +
    `(${record.failureCode ?? 'unknown'}: ${record.failureMessage ?? ''}).\n` +
    `  Fix its client id or secret (PATCH /v1/integrations/${record.key}); its connections are kept and refresh again then.`
  );
}

async function remove(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('integrations remove', argv, { force: { type: 'boolean' } }, {
    min: 1,
    max: 1,
    names: '<key> (see `tokenkeeper integrations list`)',
  });
  if (values.help) return help(io, REMOVE_USAGE);
  const key = positionals[0]!;
  return withTokenkeeper(io, async (tk) => {
    const current = await tk.integrations.getByKey(key);
    const count = await countConnectionsOfIntegration(tk.database.db, current.id);
    await tk.integrations.remove(key, { force: values.force === true });
    io.stdout(`Removed integration "${key}"${count > 0 ? ` and its ${count} connection${count === 1 ? '' : 's'}` : ''}.\n`);
    return EXIT_OK;
  });
}

function help(io: CliIo, usage: string): number {
  io.stdout(usage);
  return EXIT_OK;
}
