import { APP_EVENT_TYPES, DEFAULT_APP_EVENT_TYPES, deliveryToJson, webhookToJson } from '../delivery/index.ts';
import { TokenkeeperError } from '../errors.ts';
import { isId } from '../ids.ts';
import { findWebhookDelivery, type Database, type WebhookDeliveryRecord } from '../store/index.ts';
import { integerFlag, parseCommandArgs, UsageError } from './command.ts';
import { formatJson, formatRelative, formatTable, formatTimestamp } from './format.ts';
import { EXIT_OK, type CliIo } from './io.ts';
import { withTokenkeeper } from './open-tokenkeeper.ts';
import { runSubcommand } from './subcommands.ts';

const USAGE = `Usage: tokenkeeper webhooks <subcommand>

Endpoints of your application that receive connection and integration events as signed JSON
POSTs (Standard Webhooks; docs/webhooks.md), their delivery log, and redelivery.

Subcommands:
  list [--json]                        endpoints: id, URL, events, source
  create --url <url> [--events <list>] [--json]
                                       add an endpoint; its signing secret is printed once
  delete <id>                          remove an endpoint (whk_…) and its delivery log
  deliveries <id> [--status <status>] [--limit <n>] [--json]
                                       an endpoint's delivery log, newest first
  retry [<id>] <delivery-id>           send a delivery (dlv_…) again now

Run \`tokenkeeper webhooks <subcommand> --help\` for details.
`;

const LIST_USAGE = `Usage: tokenkeeper webhooks list [--json]

Lists the endpoints, oldest first: id, URL, the events each receives, and where it comes from
(api: created with the API or this command; environment: TOKENKEEPER_APP_WEBHOOK_URL).
Signing secrets are never shown.

Options:
  --json       print {data} as JSON (the API's shape)
  -h, --help   show this help
`;

const CREATE_USAGE = `Usage: tokenkeeper webhooks create --url <url> [--events <list>] [--json]

Adds an endpoint that receives events as signed JSON POSTs, and prints its signing secret
(whsec_…) once: only an encrypted copy is stored. Verify every delivery with it
(docs/webhooks.md has a snippet).

Options:
  --url <url>       where to POST, https:// (or http://), e.g. https://app.example.com/hooks/tokenkeeper
  --events <list>   comma-separated event names; default: all but connection.refreshed.
                    Events: ${APP_EVENT_TYPES.join(', ')}
  --json            print the endpoint with its secret as JSON (the API's shape)
  -h, --help        show this help
`;

const DELETE_USAGE = `Usage: tokenkeeper webhooks delete <id>

Removes an endpoint (whk_…, see \`tokenkeeper webhooks list\`) and its delivery log; nothing
more is sent to it. The endpoint of TOKENKEEPER_APP_WEBHOOK_URL is removed by unsetting that
variable (and TOKENKEEPER_APP_WEBHOOK_SECRET) and restarting the server instead.

Options:
  -h, --help   show this help
`;

const DELIVERIES_USAGE = `Usage: tokenkeeper webhooks deliveries <id> [--status <status>] [--limit <n>] [--json]

An endpoint's delivery log, newest first: each event sent (or to send), its status, how many
attempts were made, the last answer or error, and when the next attempt is due. Failed attempts
are retried with exponential backoff for 24 hours, then the delivery is failed.

Options:
  --status <status>   only: pending, delivered or failed
  --limit <n>         at most n (1-500, default 100)
  --json              print {data} as JSON (the API's shape)
  -h, --help          show this help
`;

const RETRY_USAGE = `Usage: tokenkeeper webhooks retry [<id>] <delivery-id>

Sends a delivery (dlv_…, see \`tokenkeeper webhooks deliveries <id>\`) again, whatever its status,
with the same webhook-id (receivers drop duplicates by it), and retries it for another 24 hours
if it fails. The running server sends it within seconds; follow it in the delivery log.

Options:
  -h, --help   show this help
`;

export async function runWebhooksCommand(argv: string[], io: CliIo): Promise<number> {
  return runSubcommand('webhooks', USAGE, argv, io, { list, create, delete: remove, deliveries, retry });
}

async function list(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('webhooks list', argv, { json: { type: 'boolean' } });
  if (values.help) return help(io, LIST_USAGE);
  return withTokenkeeper(io, async (tk) => {
    const endpoints = await tk.webhooks.list();
    if (values.json) {
      io.stdout(formatJson({ data: endpoints.map(webhookToJson) }));
    } else if (endpoints.length === 0) {
      io.stdout('No webhook endpoints yet. Add one with `tokenkeeper webhooks create --url <url>`, or set TOKENKEEPER_APP_WEBHOOK_URL.\n');
    } else {
      io.stdout(
        formatTable(
          ['id', 'url', 'events', 'source', 'created'],
          endpoints.map((endpoint) => [endpoint.id, endpoint.url, describeEvents(endpoint.events), endpoint.source, formatTimestamp(endpoint.createdAt)]),
        ),
      );
    }
    return EXIT_OK;
  });
}

async function create(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('webhooks create', argv, { url: { type: 'string' }, events: { type: 'string' }, json: { type: 'boolean' } });
  if (values.help) return help(io, CREATE_USAGE);
  if (values.url === undefined) throw new UsageError('webhooks create', 'missing --url <url> (where to POST the events)');
  const events = values.events === undefined ? undefined : values.events.split(',').map((name) => name.trim()).filter((name) => name !== '');
  return withTokenkeeper(io, async (tk) => {
    const { record, secret } = await tk.webhooks.create({ url: values.url, events });
    if (values.json) {
      io.stdout(formatJson({ ...webhookToJson(record), secret }));
      return EXIT_OK;
    }
    io.stdout(
      `Created webhook endpoint ${record.id} for ${record.url}.\n` +
        `Events: ${describeEvents(record.events)}\n\n` +
        'Its signing secret:\n\n' +
        `    ${secret}\n\n` +
        'Copy it into your application now: it will not be shown again (Tokenkeeper stores it encrypted).\n' +
        'Verify every delivery with it (Standard Webhooks headers webhook-id, webhook-timestamp, webhook-signature;\n' +
        'docs/webhooks.md has a snippet), and drop duplicates by webhook-id.\n' +
        `Delivery log: tokenkeeper webhooks deliveries ${record.id}\n`,
    );
    return EXIT_OK;
  });
}

async function remove(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('webhooks delete', argv, {}, { min: 1, max: 1, names: '<id> (whk_…, see `tokenkeeper webhooks list`)' });
  if (values.help) return help(io, DELETE_USAGE);
  const id = requireWebhookId(positionals[0]!);
  return withTokenkeeper(io, async (tk) => {
    const record = await tk.webhooks.delete(id);
    io.stdout(`Deleted webhook endpoint ${id} (${record.url}) and its delivery log; nothing more is sent to it.\n`);
    return EXIT_OK;
  });
}

async function deliveries(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'webhooks deliveries',
    argv,
    { status: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
    { min: 1, max: 1, names: '<id> (whk_…, see `tokenkeeper webhooks list`)' },
  );
  if (values.help) return help(io, DELIVERIES_USAGE);
  const id = requireWebhookId(positionals[0]!);
  const limit = integerFlag('webhooks deliveries', 'limit', values.limit, 1, 500);
  if (values.status !== undefined && !['pending', 'delivered', 'failed'].includes(values.status)) {
    throw new UsageError('webhooks deliveries', `--status must be pending, delivered or failed (got ${JSON.stringify(values.status)})`);
  }
  return withTokenkeeper(io, async (tk) => {
    const records = await tk.webhooks.deliveries(id, { status: values.status, limit });
    if (values.json) {
      io.stdout(formatJson({ data: records.map(deliveryToJson) }));
      return EXIT_OK;
    }
    if (records.length === 0) {
      io.stdout(values.status ? `No ${values.status} deliveries for ${id}.\n` : `Nothing delivered to ${id} yet: events are sent as they happen.\n`);
      return EXIT_OK;
    }
    const now = tk.clock.now();
    io.stdout(
      formatTable(
        ['id', 'event', 'status', 'attempts', 'last answer', 'next attempt', 'created'],
        records.map((record) => [
          record.id,
          record.eventType,
          record.status,
          String(record.attempts),
          lastAnswer(record),
          record.nextAttemptAt === null ? '-' : formatRelative(record.nextAttemptAt, now),
          formatTimestamp(record.createdAt),
        ]),
      ),
    );
    if (records.some((record) => record.status === 'failed')) {
      io.stderr(`Failed deliveries were retried for 24 hours. Once the receiver works, send one again with: tokenkeeper webhooks retry ${id} <delivery-id>\n`);
    }
    return EXIT_OK;
  });
}

async function retry(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('webhooks retry', argv, {}, { min: 1, max: 2, names: '<delivery-id> (dlv_…, see `tokenkeeper webhooks deliveries <id>`)' });
  if (values.help) return help(io, RETRY_USAGE);
  const deliveryId = requireDeliveryId(positionals.at(-1)!);
  const givenWebhookId = positionals.length === 2 ? requireWebhookId(positionals[0]!) : null;
  return withTokenkeeper(io, async (tk) => {
    // The delivery id alone names it; the endpoint's id, when given, must be its endpoint.
    const webhookId = givenWebhookId ?? (await findDeliveryEndpoint(tk.database.db, deliveryId));
    const record = await tk.webhooks.retry(webhookId, deliveryId);
    io.stdout(
      `Queued delivery ${record.id} (${record.eventType}, event ${record.eventId}) to be sent again now.\n` +
        `The running server sends it within seconds; follow it with: tokenkeeper webhooks deliveries ${webhookId}\n`,
    );
    return EXIT_OK;
  });
}

async function findDeliveryEndpoint(db: Database, deliveryId: string): Promise<string> {
  const delivery = await findWebhookDelivery(db, deliveryId);
  if (!delivery) throw new TokenkeeperError('delivery_not_found', `No delivery "${deliveryId}".`);
  return delivery.webhookId;
}

/** `default (all but connection.refreshed)`, or the names. */
function describeEvents(events: readonly string[]): string {
  const isDefault = events.length === DEFAULT_APP_EVENT_TYPES.length && DEFAULT_APP_EVENT_TYPES.every((type) => events.includes(type));
  if (isDefault) return 'default (all but connection.refreshed)';
  if (events.length === APP_EVENT_TYPES.length) return 'all';
  return events.join(', ');
}

function lastAnswer(record: WebhookDeliveryRecord): string {
  if (record.attempts === 0) return '-';
  if (record.lastError === null) return record.responseStatus === null ? 'ok' : String(record.responseStatus);
  return record.lastError.length > 60 ? `${record.lastError.slice(0, 59)}…` : record.lastError;
}

function requireWebhookId(value: string): string {
  if (!isId(value, 'whk')) throw new TokenkeeperError('invalid_id', `${JSON.stringify(value)} is not a webhook endpoint id (they look like whk_ followed by 20 letters and digits).`);
  return value;
}

function requireDeliveryId(value: string): string {
  if (!isId(value, 'dlv')) throw new TokenkeeperError('invalid_id', `${JSON.stringify(value)} is not a delivery id (they look like dlv_ followed by 20 letters and digits).`);
  return value;
}

function help(io: CliIo, usage: string): number {
  io.stdout(usage);
  return EXIT_OK;
}
