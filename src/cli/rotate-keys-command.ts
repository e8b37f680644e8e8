import { integerFlag, parseCommandArgs } from './command.ts';
import { formatJson, formatTable } from './format.ts';
import { EXIT_FAILURE, EXIT_OK, type CliIo } from './io.ts';
import { withTokenkeeper } from './open-tokenkeeper.ts';
import { createProgress } from './progress-bar.ts';
import { rotateSealedValues, type ColumnTally, type RotationReport } from './rotate-sealed-values.ts';

const USAGE = `Usage: tokenkeeper rotate-keys [--batch-size <n>] [--dry-run] [--json]

Re-encrypts every stored secret (connection tokens, client secrets, PKCE verifiers) under the
first key of TOKENKEEPER_ENCRYPTION_KEYS. Safe to run while servers are running and safe to
interrupt: values already under the first key are skipped, so running it again continues where
it stopped, and a value that changes while it runs is left alone and picked up by the next run.
Progress goes to stderr, the summary to stdout.

To rotate:
  1. tokenkeeper keys generate-encryption-key --id k2
  2. TOKENKEEPER_ENCRYPTION_KEYS=k2:<new>,k1:<old>   (new key first, old keys after it)
  3. restart every Tokenkeeper process, so new values are sealed with k2
  4. tokenkeeper rotate-keys   (repeat until it reports nothing skipped)
  5. remove k1 from TOKENKEEPER_ENCRYPTION_KEYS and restart

Options:
  --batch-size <n>   values per transaction (1-10000, default 200)
  --dry-run          count what would be re-encrypted; change nothing
  --json             print the summary as JSON
  -h, --help         show this help

Exit status: 0 when done (also with skipped values); 1 when some value cannot be opened with
any configured key.
`;

export async function runRotateKeysCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('rotate-keys', argv, {
    'batch-size': { type: 'string' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout(USAGE);
    return EXIT_OK;
  }
  const batchSize = integerFlag('rotate-keys', 'batch-size', values['batch-size'], 1, 10_000) ?? 200;
  return withTokenkeeper(io, async (tk) => {
    const progress = createProgress(io, values['dry-run'] ? 'Checking' : 'Re-encrypting');
    let report: RotationReport;
    try {
      report = await rotateSealedValues({
        db: tk.database.db,
        keyRing: tk.keyRing,
        batchSize,
        dryRun: values['dry-run'],
        onProgress: (done, total, label) => progress.update(done, total, label),
      });
    } finally {
      progress.finish();
    }
    const sum = (pick: (column: ColumnTally) => number): number =>
      report.columns.reduce((total, column) => total + pick(column), 0);
    const reencrypted = sum((column) => column.reencrypted);
    const current = sum((column) => column.current);
    const skipped = sum((column) => column.skipped);
    const unreadable = report.columns.flatMap((column) => column.unreadable.map((id) => `${column.column} ${id}`));

    if (values.json) {
      io.stdout(
        formatJson({
          primary_key_id: report.primaryKeyId,
          dry_run: report.dryRun,
          reencrypted,
          already_current: current,
          skipped,
          unreadable: unreadable.length,
          columns: report.columns.map((column) => ({
            column: column.column,
            reencrypted: column.reencrypted,
            already_current: column.current,
            skipped: column.skipped,
            unreadable_ids: column.unreadable,
          })),
        }),
      );
      return unreadable.length > 0 ? EXIT_FAILURE : EXIT_OK;
    }

    const primary = `"${report.primaryKeyId}"`;
    const otherKeys = tk.keyRing.keyIds.filter((id) => id !== report.primaryKeyId);
    let text = report.dryRun
      ? `Dry run: ${reencrypted} of ${report.total} stored secrets would be re-encrypted under key ${primary}; nothing was changed.\n\n`
      : `Key rotation to ${primary}: ${reencrypted} re-encrypted, ${current} already current, ${skipped} skipped.\n\n`;
    text += formatTable(
      ['values', report.dryRun ? 'to re-encrypt' : 're-encrypted', 'already current', 'skipped', 'unreadable'],
      report.columns.map((column) => [column.label, String(column.reencrypted), String(column.current), String(column.skipped), String(column.unreadable.length)]),
    );
    if (skipped > 0) {
      text += `\n${skipped} value${skipped === 1 ? '' : 's'} changed while rotating (e.g. a refresh) and ${skipped === 1 ? 'was' : 'were'} left alone: run \`tokenkeeper rotate-keys\` again to finish.\n`;
    }
    if (unreadable.length > 0) {
      text +=
        `\n${unreadable.length} value${unreadable.length === 1 ? '' : 's'} cannot be opened with any configured key (${tk.keyRing.keyIds.join(', ')}):\n` +
        unreadable.slice(0, 20).map((item) => `  ${item}\n`).join('') +
        (unreadable.length > 20 ? `  … and ${unreadable.length - 20} more\n` : '') +
        'Add the key that sealed them back to TOKENKEEPER_ENCRYPTION_KEYS (after the first one) and run this again.\n';
    } else if (!report.dryRun && skipped === 0 && otherKeys.length > 0) {
      text +=
        `\nEverything is sealed with ${primary}. Once every Tokenkeeper process runs with ${primary} first ` +
        `(and a last run here reports 0 re-encrypted), ${otherKeys.join(', ')} can be removed from TOKENKEEPER_ENCRYPTION_KEYS.\n`;
    }
    io.stdout(text);
    return unreadable.length > 0 ? EXIT_FAILURE : EXIT_OK;
  });
}
