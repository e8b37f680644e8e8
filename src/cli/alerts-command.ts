import {
  alertStats,
  alertStatsToJson,
  alertToJson,
  expireSilenceById,
  isSeverity,
  matchersOf,
  parseDuration,
  parseInstant,
  sendTestNotification,
  silenceStateOf,
  silenceToJson,
  testNotificationDepsOf,
  testNotificationToJson,
  type Severity,
  type SilenceState,
} from '../alerts/index.ts';
import { TokenkeeperError } from '../errors.ts';
import { isId } from '../ids.ts';
import type { SilenceRecord } from '../store/index.ts';
import { integerFlag, parseCommandArgs, UsageError } from './command.ts';
import { formatDuration, formatJson, formatRelative, formatTable, formatTimestamp } from './format.ts';
import { EXIT_FAILURE, EXIT_OK, type CliIo } from './io.ts';
import { withTokenkeeper } from './open-tokenkeeper.ts';
import { runSubcommand } from './subcommands.ts';

const USAGE = `Usage: tokenkeeper alerts <subcommand>

Operator alerts: what is firing, what was sent, a test of the channels, and silences. The same
operations as /v1/alerts and /v1/silences; --json prints the API's answers. See docs/alerts.md.

Subcommands:
  list [--state <state>] [--severity <s>] [--type <type>] [--since <time>] [--json]
  stats [--hours <n>] [--json]      alerts by type and severity; notifications sent, de-duplicated,
                                    silenced, failed
  test [--json]                     send a test notification through every channel now
  silence <matchers> (--for <duration> | --until <time>) [--comment <text>]
                                    hold back matching alerts (recorded, not sent)
  silence --all (--for <duration> | --until <time>)
                                    hold back every alert (maintenance)
  silences [--state <state>] [--json]
                                    list silences, expired ones included
  unsilence <id> | --all            expire a silence, or end the global silence

Run \`tokenkeeper alerts <subcommand> --help\` for details.
`;

const LIST_USAGE = `Usage: tokenkeeper alerts list [options]

Lists alerts, most recently seen first: type, key, severity, state (and whether a silence holds
it back), since when, how often it was notified, and its summary.

Options:
  --state <state>     firing or resolved
  --severity <s>      LOW, MEDIUM or HIGH
  --type <type>       one alert type, e.g. connection_stuck
  --since <time>      only alerts active since then: a duration back from now (2h, 1d), an
                      ISO 8601 date-time with a time zone, or epoch seconds
  --limit <n>         at most n (1-500, default 100)
  --json              print {data} as JSON (the API's shape)
  -h, --help          show this help
`;

const STATS_USAGE = `Usage: tokenkeeper alerts stats [--hours <n>] [--json]

What the alerts did over the last hours: alerts firing in the window by type and severity;
notifications sent, suppressed by de-duplication (raises of an alert already firing), held back
by silences, failed delivery attempts, given up, pending; per channel. docs/alerts.md defines
each number.

Options:
  --hours <n>   the window, 1-720 (default 24)
  --json        print the API's answer
  -h, --help    show this help
`;

const TEST_USAGE = `Usage: tokenkeeper alerts test [--json]

Sends a test notification through every configured channel now (no group wait, no silence, no
minimum severity) and prints each channel's result. Channels are configured by environment
variables (docs/configuration.md).

Options:
  --json       print the API's answer
  -h, --help   show this help

Exit status: 0 when every channel delivered it, 1 otherwise.
`;

const SILENCE_USAGE = `Usage: tokenkeeper alerts silence <matchers> (--for <duration> | --until <time>) [options]
       tokenkeeper alerts silence --all (--for <duration> | --until <time>) [options]

Alerts matching every matcher given are recorded but not sent until the silence ends; alerts
still firing then are sent. --all silences every alert (for maintenance) instead; end it early
with \`tokenkeeper alerts unsilence --all\`.

Matchers (at least one, unless --all):
  --type <type>         an alert type, e.g. connection_needs_reauth
  --key <key>           one alert's key, e.g. a connection id (with --type: exactly that alert)
  --severity <s>        LOW, MEDIUM or HIGH
  --label <name=value>  a label value, e.g. integration=google (repeatable)

Options:
  --for <duration>      how long: 30m, 2h, 1d, or seconds
  --until <time>        or until when: an ISO 8601 date-time with a time zone, or epoch seconds
  --starts-at <time>    start later (default now)
  --comment <text>      why, for whoever reads the list
  --by <name>           who asks (default cli and the user name)
  --all                 silence every alert
  --json                print the silence as the API does
  -h, --help            show this help
`;

const SILENCES_USAGE = `Usage: tokenkeeper alerts silences [--state <state>] [--json]

Lists silences, newest first, expired ones included (kept for history): id, state, what they
match, when they start and end, who made them and why.

Options:
  --state <state>   active, pending or expired
  --json            print {data} as JSON (the API's shape)
  -h, --help        show this help
`;

const UNSILENCE_USAGE = `Usage: tokenkeeper alerts unsilence <id>
       tokenkeeper alerts unsilence --all

Expires one silence (sil_…, see \`tokenkeeper alerts silences\`) now; it is kept for history.
--all ends the global silence ("silence everything") instead; other silences stay.

Options:
  --all        end the global silence
  --json       print the result as the API does
  -h, --help   show this help
`;

const STATES = ['firing', 'resolved'] as const;
const SILENCE_STATES: readonly SilenceState[] = ['active', 'pending', 'expired'];

export async function runAlertsCommand(argv: string[], io: CliIo): Promise<number> {
  return runSubcommand('alerts', USAGE, argv, io, { list, stats, test: testChannels, silence, silences, unsilence });
}

async function list(argv: string[], io: CliIo): Promise<number> {
  const command = 'alerts list';
  const { values } = parseCommandArgs(command, argv, {
    state: { type: 'string' },
    severity: { type: 'string' },
    type: { type: 'string' },
    since: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) return help(io, LIST_USAGE);
  const state = oneOf(command, 'state', values.state, STATES);
  const severity = severityFlag(command, values.severity);
  const limit = integerFlag(command, 'limit', values.limit, 1, 500) ?? 100;
  return withTokenkeeper(io, async (tk) => {
    const now = tk.clock.now();
    const since = values.since === undefined ? undefined : timeFlag(command, 'since', values.since, now, 'back');
    const [records, active] = await Promise.all([tk.alerts.list({ state, severity, type: values.type, since, limit }), tk.alerts.activeSilences()]);
    const json = records.map((record) => alertToJson(record, active));
    if (values.json) {
      io.stdout(formatJson({ data: json }));
      return EXIT_OK;
    }
    if (records.length === 0) {
      io.stdout(values.state || values.severity || values.type || values.since ? 'No alerts match.\n' : 'No alerts.\n');
      return EXIT_OK;
    }
    io.stdout(
      formatTable(
        ['type', 'key', 'severity', 'state', 'since', 'notified', 'summary'],
        records.map((record, index) => [
          record.type,
          record.key,
          record.severity,
          json[index]!.silenced ? 'firing (silenced)' : record.state === 'resolved' ? `resolved ${formatRelative(record.resolvedAt, now)}` : record.state,
          formatRelative(record.firstSeenAt, now),
          record.lastNotifiedAt === null ? 'never' : `${record.notificationCount}x, last ${formatRelative(record.lastNotifiedAt, now)}`,
          record.summary,
        ]),
      ),
    );
    return EXIT_OK;
  });
}

async function stats(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('alerts stats', argv, { hours: { type: 'string' }, json: { type: 'boolean' } });
  if (values.help) return help(io, STATS_USAGE);
  const hours = integerFlag('alerts stats', 'hours', values.hours, 1, 720) ?? 24;
  return withTokenkeeper(io, async (tk) => {
    const result = await alertStats(tk.database.db, tk.clock.now(), hours);
    if (values.json) {
      io.stdout(formatJson(alertStatsToJson(result)));
      return EXIT_OK;
    }
    const { alerts, notifications } = result;
    const counts = (map: Record<string, number>): string =>
      Object.entries(map)
        .filter(([, count]) => count > 0)
        .map(([name, count]) => `${name} ${count}`)
        .join(', ') || 'none';
    let text =
      `Alerts over the last ${hours} hour${hours === 1 ? '' : 's'} (since ${formatTimestamp(result.since)}):\n` +
      `  active          ${alerts.active} (firing now ${alerts.firing}, began ${alerts.fired}, resolved ${alerts.resolved})\n` +
      `  by severity     ${counts(alerts.bySeverity)}\n` +
      `  by type         ${counts(alerts.byType)}\n` +
      '\nNotifications (one per channel):\n' +
      `  sent                          ${notifications.sent}\n` +
      `  suppressed by de-duplication  ${notifications.suppressedByDeduplication}\n` +
      `  silenced                      ${notifications.silenced}\n` +
      `  failed delivery attempts      ${notifications.failedDeliveries}\n` +
      `  undelivered (gave up)         ${notifications.undelivered}\n` +
      `  pending                       ${notifications.pending}\n` +
      `  tests                         ${notifications.tests.sent} sent, ${notifications.tests.failed} failed\n`;
    const channels = Object.entries(notifications.byChannel);
    if (channels.length > 0) {
      text +=
        '\n' +
        formatTable(
          ['channel', 'sent', 'silenced', 'failed attempts', 'undelivered', 'pending'],
          channels.map(([name, channel]) => [name, String(channel.sent), String(channel.silenced), String(channel.failedDeliveries), String(channel.undelivered), String(channel.pending)]),
        );
    }
    io.stdout(text);
    return EXIT_OK;
  });
}

async function testChannels(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('alerts test', argv, { json: { type: 'boolean' } });
  if (values.help) return help(io, TEST_USAGE);
  return withTokenkeeper(io, async (tk) => {
    const report = await sendTestNotification(testNotificationDepsOf(tk), cliUser(io));
    const allOk = report.results.every((result) => result.ok);
    if (values.json) io.stdout(formatJson(testNotificationToJson(report)));
    else {
      io.stdout(
        formatTable(
          ['channel', 'target', 'result'],
          report.results.map((result) => [result.channel, result.target, result.ok ? `ok (${formatDuration(result.durationMs)})` : `FAILED: ${result.error}`]),
        ) + (allOk ? `Every channel delivered test notification ${report.id}.\n` : ''),
      );
    }
    return allOk ? EXIT_OK : EXIT_FAILURE;
  });
}

async function silence(argv: string[], io: CliIo): Promise<number> {
  const command = 'alerts silence';
  const { values } = parseCommandArgs(command, argv, {
    type: { type: 'string' },
    key: { type: 'string' },
    severity: { type: 'string' },
    label: { type: 'string', multiple: true },
    for: { type: 'string' },
    until: { type: 'string' },
    'starts-at': { type: 'string' },
    comment: { type: 'string' },
    by: { type: 'string' },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) return help(io, SILENCE_USAGE);
  const hasMatchers = values.type !== undefined || values.key !== undefined || values.severity !== undefined || (values.label?.length ?? 0) > 0;
  if (values.all && hasMatchers) throw new UsageError(command, '--all silences every alert; give it without --type, --key, --severity or --label');
  if (!values.all && !hasMatchers) throw new UsageError(command, 'give at least one matcher (--type, --key, --severity, --label name=value), or --all to silence every alert');
  if ((values.for === undefined) === (values.until === undefined)) throw new UsageError(command, 'give how long with --for <duration> (2h) or until when with --until <time>, one of them');
  if (values.all && values['starts-at'] !== undefined) throw new UsageError(command, '--all starts now; --starts-at is for silences with matchers');
  const labels: Record<string, string> = {};
  for (const entry of values.label ?? []) {
    const at = entry.indexOf('=');
    if (at <= 0) throw new UsageError(command, `--label takes name=value, e.g. integration=google (got ${JSON.stringify(entry)})`);
    labels[entry.slice(0, at)] = entry.slice(at + 1);
  }
  const severity = severityFlag(command, values.severity);
  const forMs = values.for === undefined ? undefined : parseDuration(values.for);
  if (forMs === null || forMs === 0) throw new UsageError(command, `--for takes a duration such as 30m, 2h or 1d (got ${JSON.stringify(values.for)})`);
  return withTokenkeeper(io, async (tk) => {
    const now = tk.clock.now();
    const startsAt = values['starts-at'] === undefined ? undefined : timeFlag(command, 'starts-at', values['starts-at'], now, 'ahead');
    const endsAt = forMs !== undefined ? (startsAt ?? now) + forMs : timeFlag(command, 'until', values.until!, now, 'ahead');
    const createdBy = values.by ?? cliUser(io);
    const record = values.all
      ? await tk.alerts.silenceAll({ endsAt, comment: values.comment, createdBy })
      : await tk.alerts.silence({ matchers: matchersOf({ type: values.type, key: values.key, severity, labels }), startsAt: startsAt ?? now, endsAt, comment: values.comment, createdBy });
    if (values.json) io.stdout(formatJson(silenceToJson(record, tk.clock.now())));
    else {
      const what = values.all ? 'every alert' : `alerts matching ${matchersText(record)}`;
      const from = record.startsAt > record.createdAt ? ` from ${formatTimestamp(record.startsAt)}` : '';
      io.stdout(`Silenced ${what}${from} until ${formatTimestamp(record.endsAt)} (${record.id}).\nEnd it early with \`tokenkeeper alerts unsilence ${values.all ? '--all' : record.id}\`.\n`);
    }
    return EXIT_OK;
  });
}

async function silences(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('alerts silences', argv, { state: { type: 'string' }, json: { type: 'boolean' } });
  if (values.help) return help(io, SILENCES_USAGE);
  const state = oneOf('alerts silences', 'state', values.state, SILENCE_STATES);
  return withTokenkeeper(io, async (tk) => {
    const now = tk.clock.now();
    const records = (await tk.alerts.listSilences()).filter((record) => state === undefined || silenceStateOf(record, now) === state);
    if (values.json) {
      io.stdout(formatJson({ data: records.map((record) => silenceToJson(record, now)) }));
      return EXIT_OK;
    }
    if (records.length === 0) {
      io.stdout(state ? 'No silences match.\n' : 'No silences.\n');
      return EXIT_OK;
    }
    io.stdout(
      formatTable(
        ['id', 'state', 'matches', 'starts', 'ends', 'by', 'comment'],
        records.map((record) => [
          record.id,
          silenceStateOf(record, now),
          record.matchers.length === 0 ? 'everything' : matchersText(record),
          formatTimestamp(record.startsAt),
          formatTimestamp(record.endsAt),
          record.createdBy,
          record.comment,
        ]),
      ),
    );
    return EXIT_OK;
  });
}

async function unsilence(argv: string[], io: CliIo): Promise<number> {
  const command = 'alerts unsilence';
  const { values, positionals } = parseCommandArgs(command, argv, { all: { type: 'boolean' }, json: { type: 'boolean' } }, { min: 0, max: 1 });
  if (values.help) return help(io, UNSILENCE_USAGE);
  if (values.all && positionals.length > 0) throw new UsageError(command, 'give a silence id or --all, not both');
  if (!values.all && positionals.length === 0) throw new UsageError(command, 'missing <id> (sil_…, see `tokenkeeper alerts silences`), or --all');
  const id = positionals[0];
  if (id !== undefined && !isId(id, 'sil')) {
    throw new TokenkeeperError('invalid_id', `${JSON.stringify(id)} is not a silence id (they look like sil_ followed by 20 letters and digits).`);
  }
  return withTokenkeeper(io, async (tk) => {
    if (id === undefined) {
      const expired = await tk.alerts.restore();
      if (values.json) io.stdout(formatJson({ expired }));
      else io.stdout(expired === 0 ? 'There was no global silence; nothing changed.\n' : `Ended the global silence; alerts are sent again.\n`);
      return EXIT_OK;
    }
    const record = await expireSilenceById(tk.alerts, id);
    if (values.json) io.stdout(formatJson(silenceToJson(record, tk.clock.now())));
    else io.stdout(`Expired silence ${record.id} (${record.matchers.length === 0 ? 'everything' : matchersText(record)}); it stays in \`tokenkeeper alerts silences\`.\n`);
    return EXIT_OK;
  });
}

/** `type=x severity=HIGH integration=google`. */
function matchersText(record: SilenceRecord): string {
  return record.matchers.map((matcher) => `${matcher.name}=${matcher.value}`).join(' ');
}

/** Who asks, for a silence's `created_by` and a test's label: `cli (alice)`. */
function cliUser(io: CliIo): string {
  const user = io.env.USER ?? io.env.USERNAME ?? io.env.LOGNAME;
  return user ? `cli (${user})` : 'cli';
}

function severityFlag(command: string, value: string | undefined): Severity | undefined {
  if (value === undefined) return undefined;
  const upper = value.toUpperCase();
  if (!isSeverity(upper)) throw new UsageError(command, `--severity takes LOW, MEDIUM or HIGH (got ${JSON.stringify(value)})`);
  return upper;
}

function oneOf<const T extends readonly string[]>(command: string, flag: string, value: string | undefined, allowed: T): T[number] | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value)) throw new UsageError(command, `--${flag} takes ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
  return value as T[number];
}

/** A time flag: a duration from now (`2h`: back for --since, ahead otherwise), an ISO 8601 date-time, or epoch seconds. */
function timeFlag(command: string, flag: string, value: string, now: number, direction: 'back' | 'ahead'): number {
  if (/[a-z]$/i.test(value.trim()) && !/^\d{4}-/.test(value.trim())) {
    const ms = parseDuration(value);
    if (ms !== null) return direction === 'back' ? now - ms : now + ms;
  }
  const parsed = parseInstant(value);
  if ('ms' in parsed) return parsed.ms;
  throw new UsageError(command, `--${flag}: ${parsed.problem}, or a duration such as 2h`);
}

function help(io: CliIo, usage: string): number {
  io.stdout(usage);
  return EXIT_OK;
}
