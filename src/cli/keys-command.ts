import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type Config } from '../config/index.ts';
import { DEVELOPMENT_KEY_FILE, KeyRing } from '../crypto/index.ts';
import { createApiKey, listApiKeys, revokeApiKeyById } from '../http/index.ts';
import { parseCommandArgs, UsageError } from './command.ts';
import { formatJson, formatTable, formatTimestamp } from './format.ts';
import { EXIT_OK, type CliIo } from './io.ts';
import { loadCliConfig, withTokenkeeper } from './open-tokenkeeper.ts';
import { runSubcommand } from './subcommands.ts';

const USAGE = `Usage: tokenkeeper keys <subcommand>

API keys for Tokenkeeper's own API (send them as Authorization: Bearer <key>), and encryption
keys for data at rest.

Subcommands:
  create --name <name> [--json]       create an API key; it is printed once, only its hash is stored
  list [--json]                       list API keys: id, name, prefix, created, last used, revoked
  revoke <id>                         revoke an API key (key_…); requests with it are refused
  generate-encryption-key [--id <id>] print a new TOKENKEEPER_ENCRYPTION_KEYS entry and how to
                                      rotate to it

Run \`tokenkeeper keys <subcommand> --help\` for details.
`;

const CREATE_USAGE = `Usage: tokenkeeper keys create --name <name> [--json]

Creates an API key for Tokenkeeper's API and prints it once. Only a SHA-256 hash is stored, so
the key cannot be shown again: copy it into your secret store now.

Options:
  --name <name>   what the key is for, e.g. "billing-service" (1-100 printable characters)
  --json          print {id, name, prefix, key, created_at} as JSON
  -h, --help      show this help
`;

const LIST_USAGE = `Usage: tokenkeeper keys list [--json]

Lists API keys: id, name, prefix (the first characters, to tell keys apart), when each was
created and last used, and whether it is revoked. Keys themselves are never shown.

Options:
  --json       print the list as JSON
  -h, --help   show this help
`;

const REVOKE_USAGE = `Usage: tokenkeeper keys revoke <id>

Revokes an API key by id (key_…, from \`tokenkeeper keys list\`). Running servers refuse it
within 30 seconds (they cache a verified key that long). To have it refused at once, revoke it
through the API instead: DELETE /v1/api-keys/<id> (at once on the server that answers).

Options:
  -h, --help   show this help
`;

const GENERATE_USAGE = `Usage: tokenkeeper keys generate-encryption-key [--id <id>]

Prints a new encryption key entry "<id>:<base64 of 32 random bytes>" for
TOKENKEEPER_ENCRYPTION_KEYS on stdout (so it can be redirected into a secret store) and, on
stderr, how to use it: alone for a new installation, or first in the list followed by the old
keys to rotate, then \`tokenkeeper rotate-keys\`.

Options:
  --id <id>    the key id (1-32 of A-Z a-z 0-9 _ -); default "k" + the current UTC time
  -h, --help   show this help
`;

export async function runKeysCommand(argv: string[], io: CliIo): Promise<number> {
  return runSubcommand('keys', USAGE, argv, io, {
    create: createKey,
    list: listKeys,
    revoke: revokeKey,
    'generate-encryption-key': generateEncryptionKey,
  });
}

async function createKey(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('keys create', argv, { name: { type: 'string' }, json: { type: 'boolean' } });
  if (values.help) return help(io, CREATE_USAGE);
  if (values.name === undefined) throw new UsageError('keys create', 'missing --name <name> (what the key is for)');
  const name = values.name;
  return withTokenkeeper(io, async (tk) => {
    const { key, record } = await createApiKey(tk.database.db, tk.clock, name);
    if (values.json) {
      io.stdout(formatJson({ id: record.id, name: record.name, prefix: record.prefix, key, created_at: new Date(record.createdAt).toISOString() }));
    } else {
      io.stdout(
        `Created API key "${record.name}" (${record.id}):\n\n` +
          `    ${key}\n\n` +
          'Copy it now: it will not be shown again (Tokenkeeper stores only a hash of it).\n' +
          `Use it as:   curl -H "Authorization: Bearer ${key}" ${tk.config.publicUrl}/v1/connections\n` +
          `Revoke with: tokenkeeper keys revoke ${record.id}\n`,
      );
    }
    return EXIT_OK;
  });
}

async function listKeys(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('keys list', argv, { json: { type: 'boolean' } });
  if (values.help) return help(io, LIST_USAGE);
  return withTokenkeeper(io, async (tk) => {
    const keys = await listApiKeys(tk.database.db);
    const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
    if (values.json) {
      io.stdout(
        formatJson(
          keys.map((key) => ({
            id: key.id,
            name: key.name,
            prefix: key.prefix,
            created_at: iso(key.createdAt),
            last_used_at: iso(key.lastUsedAt),
            revoked_at: iso(key.revokedAt),
          })),
        ),
      );
    } else if (keys.length === 0) {
      io.stdout('No API keys yet. Create one with `tokenkeeper keys create --name <name>`.\n');
    } else {
      io.stdout(
        formatTable(
          ['id', 'name', 'prefix', 'created', 'last used', 'revoked'],
          keys.map((key) => [
            key.id,
            key.name,
            `${key.prefix}…`,
            formatTimestamp(key.createdAt),
            key.lastUsedAt === null ? 'never' : formatTimestamp(key.lastUsedAt),
            key.revokedAt === null ? '-' : formatTimestamp(key.revokedAt),
          ]),
        ),
      );
    }
    return EXIT_OK;
  });
}

async function revokeKey(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('keys revoke', argv, {}, { min: 1, max: 1, names: '<id> (key_…, see `tokenkeeper keys list`)' });
  if (values.help) return help(io, REVOKE_USAGE);
  const id = positionals[0]!;
  return withTokenkeeper(io, async (tk) => {
    const name = (await listApiKeys(tk.database.db)).find((key) => key.id === id)?.name;
    await revokeApiKeyById(tk.database.db, tk.clock, id);
    io.stdout(
      `Revoked API key ${id}${name ? ` ("${name}")` : ''}. Running servers refuse it within 30 seconds (they cache verified keys that long);\n` +
        `DELETE ${tk.config.publicUrl}/v1/api-keys/${id} makes the server that answers refuse it at once.\n`,
    );
    return EXIT_OK;
  });
}

async function generateEncryptionKey(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('keys generate-encryption-key', argv, { id: { type: 'string' } });
  if (values.help) return help(io, GENERATE_USAGE);
  // The configuration only adds advice (which ids exist); a broken one must not stop anyone
  // from generating the key that fixes it.
  let config: Readonly<Config> | null = null;
  try {
    config = loadCliConfig(io);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
  }
  const configuredIds = config?.encryptionKeys ? KeyRing.parse(config.encryptionKeys).keyIds : [];
  if (values.id !== undefined && configuredIds.includes(values.id)) {
    throw new UsageError(
      'keys generate-encryption-key',
      `--id ${values.id} is already in TOKENKEEPER_ENCRYPTION_KEYS (${configuredIds.join(', ')}); every key needs a new id`,
    );
  }
  let entry: string;
  try {
    entry = KeyRing.generateKeySpec(values.id);
  } catch (error) {
    throw new UsageError('keys generate-encryption-key', `--id: ${(error as Error).message}`);
  }
  io.stdout(`${entry}\n`);
  const developmentKey = config && config.encryptionKeys === null ? join(config.dataDir, DEVELOPMENT_KEY_FILE) : null;
  let advice =
    `\nThat is a new TOKENKEEPER_ENCRYPTION_KEYS entry (key id "${entry.slice(0, entry.indexOf(':'))}"). Keep it as secret as the tokens it\n` +
    'protects, and do not lose it: data sealed with it cannot be read without it.\n\n' +
    '  New installation:  TOKENKEEPER_ENCRYPTION_KEYS=<new entry>\n' +
    '  Rotation:          TOKENKEEPER_ENCRYPTION_KEYS=<new entry>,<the current value>\n';
  if (configuredIds.length > 0) {
    advice += `                     (the current value lists ${configuredIds.join(', ')}; the first key seals, all of them open)\n`;
  } else if (developmentKey && existsSync(developmentKey)) {
    advice += `                     (so far data is sealed with the development key: use the key line from ${developmentKey} as the current value)\n`;
  }
  advice +=
    '\nTo rotate: put the new key first, restart every Tokenkeeper process, run `tokenkeeper rotate-keys`,\n' +
    'and once it reports everything current, remove the old key(s) from the list.\n';
  io.stderr(advice);
  return EXIT_OK;
}

function help(io: CliIo, usage: string): number {
  io.stdout(usage);
  return EXIT_OK;
}
