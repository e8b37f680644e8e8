import { isSeverity } from '../alerts/index.ts';
import { STUCK_STATES, stuckConnectionToJson, stuckThresholdsToJson, type StuckFilter, type StuckState } from '../health/index.ts';
import { parseCommandArgs, UsageError } from './command.ts';
import { formatDuration, formatJson, formatTable } from './format.ts';
import { EXIT_OK, type CliIo } from './io.ts';
import { withTokenkeeper } from './open-tokenkeeper.ts';

const USAGE = `Usage: tokenkeeper stuck [--severity <s>] [--terminal true|false] [--state <state>] [--json]

Lists connections stuck longer than their thresholds (docs/alerts.md, "Stuck connections"):
connect sessions started and never completed (LOW, after 30 minutes), connections degraded
(MEDIUM, after an hour) or needing re-authorization (HIGH and terminal: only the user can fix
it, after a day). Highest severity first, then the longest stuck, each with what would unstick
it. The thresholds are TOKENKEEPER_STUCK_*_AFTER. Reads only storage.

Options:
  --severity <s>          only LOW, MEDIUM or HIGH
  --terminal true|false   only those that need their user (true), or the others (false)
  --state <state>         only connect_session, degraded or needs_reauth
  --json                  print {data, thresholds} as JSON (the API's shape)
  -h, --help              show this help
`;

export async function runStuckCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('stuck', argv, {
    severity: { type: 'string' },
    terminal: { type: 'string' },
    state: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout(USAGE);
    return EXIT_OK;
  }
  const filter: StuckFilter = {};
  if (values.severity !== undefined) {
    const severity = values.severity.toUpperCase();
    if (!isSeverity(severity)) throw new UsageError('stuck', `--severity takes LOW, MEDIUM or HIGH (got ${JSON.stringify(values.severity)})`);
    filter.severity = severity;
  }
  if (values.terminal !== undefined) {
    if (values.terminal !== 'true' && values.terminal !== 'false') throw new UsageError('stuck', `--terminal takes true or false (got ${JSON.stringify(values.terminal)})`);
    filter.terminal = values.terminal === 'true';
  }
  if (values.state !== undefined) {
    if (!STUCK_STATES.includes(values.state as StuckState)) throw new UsageError('stuck', `--state takes ${STUCK_STATES.join(', ')} (got ${JSON.stringify(values.state)})`);
    filter.state = values.state as StuckState;
  }
  return withTokenkeeper(io, async (tk) => {
    const items = await tk.stuck.list(filter);
    if (values.json) {
      io.stdout(formatJson({ data: items.map(stuckConnectionToJson), thresholds: stuckThresholdsToJson(tk.stuck.thresholds) }));
      return EXIT_OK;
    }
    if (items.length === 0) {
      io.stdout(Object.keys(filter).length > 0 ? 'No stuck connections match.\n' : 'No stuck connections.\n');
      return EXIT_OK;
    }
    const table = formatTable(
      ['severity', 'state', 'stuck for', 'integration', 'owner', 'id', 'terminal'],
      items.map((item) => [
        item.severity,
        item.state,
        formatDuration(item.stuckForMs),
        item.integration,
        item.kind === 'system' ? '(system)' : (item.ownerId ?? '-'),
        item.id,
        item.terminal ? 'yes' : 'no',
      ]),
    );
    const actions = items.map((item) => `  ${item.id}: ${item.action}\n`).join('');
    io.stdout(`${table}\nWhat would unstick them:\n${actions}`);
    return EXIT_OK;
  });
}
