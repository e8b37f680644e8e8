/** Plain-text output helpers: aligned tables and human times. No colours: output is often piped. */

/**
 * Left-aligned columns separated by two spaces; the header is upper-cased. Cells are single-line
 * (newlines and tabs become spaces) so a value cannot break the layout.
 */
export function formatTable(headers: string[], rows: string[][]): string {
  const clean = (cell: string): string => cell.replace(/[\r\n\t]+/g, ' ');
  const all = [headers.map((header) => header.toUpperCase()), ...rows.map((row) => row.map(clean))];
  const widths = headers.map((_, column) => Math.max(...all.map((row) => [...(row[column] ?? '')].length)));
  return (
    all
      .map((row) =>
        row
          .map((cell, column) => (column === row.length - 1 ? cell : cell + ' '.repeat(widths[column]! - [...cell].length)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** `2026-01-31 14:05:09Z`: ISO 8601, second precision, readable in a table. */
export function formatTimestamp(ms: number | null): string {
  if (ms === null) return '-';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** `in 4m 10s`, `3h 2m ago`: the distance from `now`, two units at most. */
export function formatRelative(ms: number | null, now: number): string {
  if (ms === null) return 'never';
  const delta = ms - now;
  const text = formatDuration(Math.abs(delta));
  if (Math.abs(delta) < 1000) return 'now';
  return delta > 0 ? `in ${text}` : `${text} ago`;
}

/** `4m 10s`, `2d 3h`, `850ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const units: [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of units) {
    if (parts.length === 0 && rest < size) continue;
    parts.push(`${Math.floor(rest / size)}${unit}`);
    rest %= size;
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

/** JSON for `--json`: pretty, one trailing newline. */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
