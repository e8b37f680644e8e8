import { parseCommandArgs } from './command.ts';
import { EXIT_OK, type CliIo } from './io.ts';
import { loadCliConfig } from './open-tokenkeeper.ts';
import { runSubcommand } from './subcommands.ts';

const USAGE = `Usage: tokenkeeper deploy <subcommand>

Configuration for deployment platforms, printed from this configuration.

Subcommands:
  vercel-crons   print the "crons" entries of vercel.json for the serverless shape

Run \`tokenkeeper deploy <subcommand> --help\` for details.
`;

const VERCEL_CRONS_USAGE = `Usage: tokenkeeper deploy vercel-crons

Prints, as JSON on stdout, the "crons" entries of vercel.json for a serverless deployment (no
process runs timers; Vercel's cron calls the cron routes): /v1/cron/refresh at
TOKENKEEPER_SWEEP_INTERVAL, rounded down to what a minute cron can express (never less often than
configured; at least every minute); /v1/cron/alert-rules, /v1/cron/notify and /v1/cron/webhooks
every minute; /v1/cron/stuck every 5 minutes; /v1/cron/cleanup hourly. Merge them into
vercel.json. Notes for the deployment go to stderr.

Set TOKENKEEPER_SCHEDULER=off on the functions, and TOKENKEEPER_CRON_SECRET to the same value as
the project's CRON_SECRET: Vercel sends it as Authorization: Bearer $CRON_SECRET.

Options:
  -h, --help   show this help
`;

export interface VercelCron {
  path: string;
  schedule: string;
}

/** The sweep interval Vercel's crons use when the configured one is 0 (the in-process scheduler turned off that way). */
const DEFAULT_SWEEP_SECONDS = 60;

/** Divisors of 60 and of 24: the only steps a `*\/n` cron field repeats at evenly (a `*\/7` minute field runs at :56 and again at :00). */
const MINUTE_STEPS = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30];
const HOUR_STEPS = [1, 2, 3, 4, 6, 8, 12];

/**
 * The five-field cron schedule (UTC) that runs at least as often as every `seconds`, and its
 * period: rounded down, never up, because a sweep that comes later than configured can let a
 * token expire inside its refresh buffer. Cron cannot go below a minute.
 */
export function cronScheduleFor(seconds: number): { schedule: string; periodSeconds: number } {
  const minutes = Math.max(1, Math.floor(seconds / 60));
  if (minutes < 60) {
    const step = MINUTE_STEPS.filter((candidate) => candidate <= minutes).at(-1)!;
    return { schedule: step === 1 ? '* * * * *' : `*/${step} * * * *`, periodSeconds: step * 60 };
  }
  const hours = Math.floor(minutes / 60);
  if (hours >= 24) return { schedule: '0 0 * * *', periodSeconds: 86_400 };
  const step = HOUR_STEPS.filter((candidate) => candidate <= hours).at(-1)!;
  return { schedule: step === 1 ? '0 * * * *' : `0 */${step} * * *`, periodSeconds: step * 3_600 };
}

/**
 * One entry per scheduled job: the refresh sweep; alert rules, alert notifications and
 * application webhooks as often as a cron can (in process they tick every few seconds); stuck
 * connections every 5 minutes and cleanup hourly (their in-process intervals).
 */
export function vercelCrons(sweepIntervalSeconds: number): VercelCron[] {
  return [
    { path: '/v1/cron/refresh', schedule: cronScheduleFor(sweepIntervalSeconds).schedule },
    { path: '/v1/cron/alert-rules', schedule: '* * * * *' },
    { path: '/v1/cron/notify', schedule: '* * * * *' },
    { path: '/v1/cron/webhooks', schedule: '* * * * *' },
    { path: '/v1/cron/stuck', schedule: '*/5 * * * *' },
    { path: '/v1/cron/cleanup', schedule: '0 * * * *' },
  ];
}

async function runVercelCrons(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('deploy vercel-crons', argv, {});
  if (values.help) {
    io.stdout(VERCEL_CRONS_USAGE);
    return EXIT_OK;
  }
  const config = loadCliConfig(io);
  const configured = config.sweepIntervalSeconds;
  const seconds = configured === 0 ? DEFAULT_SWEEP_SECONDS : configured;
  io.stdout(`${JSON.stringify({ crons: vercelCrons(seconds) }, null, 2)}\n`);
  const notes = [
    'Vercel sends Authorization: Bearer $CRON_SECRET with each cron call: set TOKENKEEPER_CRON_SECRET to the project\'s CRON_SECRET (at least 16 characters), or the cron routes answer 401 (404 when TOKENKEEPER_CRON_SECRET is unset).',
    'Set TOKENKEEPER_SCHEDULER=off on the functions: no in-process timers; these crons drive the jobs.',
    'A cron runs at most once a minute, so alert notifications and application webhooks can be up to a minute late (a long-running instance sends them within seconds).',
  ];
  const { periodSeconds } = cronScheduleFor(seconds);
  if (configured === 0) notes.push(`TOKENKEEPER_SWEEP_INTERVAL is 0; the refresh cron runs every ${DEFAULT_SWEEP_SECONDS} s.`);
  else if (periodSeconds !== configured) {
    const why = configured < 60 ? 'one minute is the shortest period a cron has' : 'the nearest shorter period a cron repeats evenly';
    notes.push(`TOKENKEEPER_SWEEP_INTERVAL is ${configured} s; the refresh cron runs every ${periodSeconds} s (${why}).`);
  }
  io.stderr(notes.map((note) => `note: ${note}\n`).join(''));
  return EXIT_OK;
}

export async function runDeployCommand(argv: string[], io: CliIo): Promise<number> {
  return runSubcommand('deploy', USAGE, argv, io, { 'vercel-crons': runVercelCrons });
}
