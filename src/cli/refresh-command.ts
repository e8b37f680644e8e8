import { parseCommandArgs, UsageError } from './command.ts';
import { formatDuration, formatJson, formatRelative, formatTimestamp } from './format.ts';
import { EXIT_FAILURE, EXIT_OK, type CliIo } from './io.ts';
import { requireConnectionId } from './connection-id.ts';
import { withTokenkeeper } from './open-tokenkeeper.ts';

const USAGE = `Usage: tokenkeeper refresh <connection id> [--json]
       tokenkeeper refresh --all-due [--json]

<connection id>  Refreshes that connection now, whatever its remaining validity, through the
                 same single-flight path as the API (one refresh even if a server is refreshing
                 it at the same moment), and prints the new expiry. Never prints a token.
--all-due        Runs the proactive refresh sweep once, as the scheduler does every
                 TOKENKEEPER_SWEEP_INTERVAL seconds: every active or degraded connection that is
                 due is refreshed. Prints the sweep's report.

Options:
  --all-due    run the sweep once instead of refreshing one connection
  --json       print the result as JSON
  -h, --help   show this help

Exit status: 0 on success; 1 when the refresh failed, or when the sweep had failures.
`;

export async function runRefreshCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('refresh', argv, { 'all-due': { type: 'boolean' }, json: { type: 'boolean' } }, {
    min: 0,
    max: 1,
  });
  if (values.help) {
    io.stdout(USAGE);
    return EXIT_OK;
  }
  if (values['all-due'] && positionals.length > 0) throw new UsageError('refresh', 'give a connection id or --all-due, not both');
  if (!values['all-due'] && positionals.length === 0) {
    throw new UsageError('refresh', 'missing <connection id> (con_…, see `tokenkeeper connections list`), or --all-due');
  }

  if (values['all-due']) {
    // No jitter: a person is waiting; per-provider rate limits and concurrency still apply.
    return withTokenkeeper(
      io,
      async (tk) => {
        const report = await tk.jobs.run('refresh');
        if (values.json) io.stdout(formatJson(report));
        else {
          io.stdout(
            `Refresh sweep done in ${formatDuration(report.duration_ms)}: ${report.checked} connection${report.checked === 1 ? '' : 's'} looked at, ` +
              `${report.refreshed} refreshed, ${report.failed} failed, ${report.needs_reauth} need the user to reconnect.\n`,
          );
          if (report.failed > 0 || report.needs_reauth > 0) {
            io.stdout('See which with `tokenkeeper connections list --status degraded` or `--status needs_reauth`.\n');
          }
        }
        return report.failed > 0 ? EXIT_FAILURE : EXIT_OK;
      },
      { sweepJitterMs: 0 },
    );
  }

  const id = requireConnectionId(positionals[0]!);
  return withTokenkeeper(io, async (tk) => {
    const result = await tk.tokens.forceRefresh(id, 'forced');
    const expiresAt = result.expiresAt === null ? null : new Date(result.expiresAt).toISOString();
    if (values.json) {
      io.stdout(formatJson({ connection_id: id, refreshed: true, token_type: result.tokenType, expires_at: expiresAt, scopes: result.scopes }));
    } else {
      io.stdout(
        `Refreshed ${id}: the new access token ` +
          (result.expiresAt === null
            ? 'does not expire'
            : `expires at ${formatTimestamp(result.expiresAt)} (${formatRelative(result.expiresAt, tk.clock.now())})`) +
          '.\n',
      );
    }
    return EXIT_OK;
  });
}
