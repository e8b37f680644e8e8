/**
 * The benchmark's own knobs. They are read here, not through src/config: they configure this
 * tool, not Tokenkeeper. A bad value stops the run at once (exit 2) rather than measuring
 * something else than what was asked.
 */

export interface BenchOptions {
  /** `--cluster`: the PostgreSQL / several-processes benchmark instead of the embedded one. */
  cluster: boolean;
  /** `--alerts`: operator alerting (time to awareness, an outage's notifications, a hanging channel). */
  alerts: boolean;
  /** `--proxy`: the authenticated proxy against the same GET sent directly to a local upstream. */
  proxy: boolean;
  /** `--json`: exactly one JSON object on stdout; everything else on stderr. */
  json: boolean;
  /** BENCH_DURATION: seconds per throughput run (default 10). */
  durationSeconds: number;
  /** BENCH_SCALE: share of the cluster benchmark's connection counts (default 1, the full size). */
  scale: number;
}

export const USAGE = `Usage: npm run bench [-- [--cluster | --alerts | --proxy] [--json]]

  (no flag)   the embedded shape: one process, SQLite
  --cluster   the cluster shape: PostgreSQL (DATABASE_URL, TEST_DATABASE_URL, or
              postgres://postgres@127.0.0.1:5432/test), several \`tokenkeeper serve\` processes
  --alerts    operator alerting: time to awareness, a simulated outage's notifications, token
              throughput while an alert channel hangs
  --proxy     the proxy: GET /v1/proxy/:id/<path> to a local upstream ÷ the same GET sent
              directly (throughput, p99, CPU per call), the latency it adds at p50/p99, with
              an upstream answering at once and one answering after 20 ms; one integration's pace
  --json      print exactly one JSON object on stdout; progress and the report go to stderr

  BENCH_DURATION=<seconds>  each throughput run (default 10)
  BENCH_SCALE=<0..1>        share of the cluster benchmark's 100,000 / 10,000 connections (default 1)

Exit code: 0 when it ran (aims may be missed: read the figures), 1 when a must-hold check failed
(more than one refresh call for one connection, a token that expired before its refresh; with
--proxy, an answer that was not the upstream's 200), 2 when it could not run.
`;

/** One benchmark per run: each starts its own services, and their figures would not add up. */
const MODE_FLAGS = ['--cluster', '--alerts', '--proxy'] as const;
const KNOWN_FLAGS = new Set<string>([...MODE_FLAGS, '--json']);

export function readOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const flags = new Set(argv);
  for (const flag of flags) {
    if (!KNOWN_FLAGS.has(flag)) usageError(flag === '--help' || flag === '-h' ? null : `unknown option ${flag}`);
  }
  const modes = MODE_FLAGS.filter((flag) => flags.has(flag));
  if (modes.length > 1) usageError(`choose one of ${modes.join(', ')}`);
  return {
    cluster: flags.has('--cluster'),
    alerts: flags.has('--alerts'),
    proxy: flags.has('--proxy'),
    json: flags.has('--json'),
    durationSeconds: readNumber(env, 'BENCH_DURATION', 10, (value) => value > 0 && value <= 600, 'a positive number of seconds, at most 600'),
    scale: readNumber(env, 'BENCH_SCALE', 1, (value) => value > 0 && value <= 1, 'a number above 0 and at most 1 (e.g. 0.1 for a quick run)'),
  };
}

function readNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, valid: (value: number) => boolean, expected: string): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || !valid(value)) usageError(`${name} must be ${expected}; got "${raw}".`);
  return value;
}

function usageError(message: string | null): never {
  if (message) console.error(message);
  console.error(USAGE);
  process.exit(message ? 2 : 0);
}
