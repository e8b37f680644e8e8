import { ConfigError, type Config } from '../config/index.ts';
import { integerFlag, parseCommandArgs } from './command.ts';
import { checkIntegrations } from './doctor-integrations.ts';
import { checkKeys } from './doctor-keys.ts';
import { checkMetricsExposure } from './doctor-metrics.ts';
import { checkPorts } from './doctor-ports.ts';
import { DoctorReport } from './doctor-report.ts';
import { checkStorage } from './doctor-storage.ts';
import { formatJson } from './format.ts';
import { EXIT_FAILURE, EXIT_OK, type CliIo } from './io.ts';
import { loadCliConfig } from './open-tokenkeeper.ts';
import { tokenkeeperVersion } from './version.ts';

const USAGE = `Usage: tokenkeeper doctor [--timeout <ms>] [--json]

Checks a Tokenkeeper set-up and prints a report, one line per check (✔ fine, ⚠ worth knowing,
✖ a problem, – skipped):
  configuration    every variable parses and validates (the same rules as start-up)
  storage          the database opens and answers; pending migrations
  encryption keys  the key ring loads; stored secrets under an older key (→ rotate-keys) or
                   under a key that is no longer configured
  integrations     provider known, client secret decrypts, discovery document and token
                   endpoint reachable over HTTP
  ports            TOKENKEEPER_PORT (and the sandbox's port, if on) free or used by Tokenkeeper
Changes nothing and never prints a secret.

Options:
  --timeout <ms>   per network check (100-60000, default 5000)
  --json           print the report as JSON
  -h, --help       show this help

Exit status: 0 when there is no ✖, 1 otherwise.
`;

export async function runDoctorCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('doctor', argv, { timeout: { type: 'string' }, json: { type: 'boolean' } });
  if (values.help) {
    io.stdout(USAGE);
    return EXIT_OK;
  }
  const timeoutMs = integerFlag('doctor', 'timeout', values.timeout, 100, 60_000) ?? 5_000;
  const report = new DoctorReport();

  const configuration = report.section('Configuration');
  let config: Readonly<Config>;
  try {
    config = loadCliConfig(io);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) configuration.lines.push({ status: 'fail', text: `${problem.variable}: ${problem.message}` });
    configuration.lines.push({ status: 'skip', text: 'other checks need a valid configuration; see docs/configuration.md' });
    return finish(report, values.json === true, io);
  }
  configuration.lines.push({
    status: 'ok',
    text: `valid: ${config.env}, public URL ${config.publicUrl}, data in ${config.dataDir}`,
  });
  if (config.env === 'production' && config.cronSecret === null && config.sweepIntervalSeconds === 0) {
    configuration.lines.push({
      status: 'fail',
      text: 'nothing refreshes tokens proactively: TOKENKEEPER_SWEEP_INTERVAL=0 and no TOKENKEEPER_CRON_SECRET for an external scheduler',
      hint: 'set TOKENKEEPER_SWEEP_INTERVAL (e.g. 60), or TOKENKEEPER_CRON_SECRET and call POST /v1/cron/refresh every minute',
    });
  }

  const metricsExposure = checkMetricsExposure(config);
  if (metricsExposure) configuration.lines.push(metricsExposure);

  const storage = await checkStorage(config, report.section('Storage'));
  try {
    const keyRing = await checkKeys(config, storage, report.section('Encryption keys'));
    await checkIntegrations(config, storage, keyRing, report.section('Integrations'), timeoutMs);
    await checkPorts(config, report.section('Ports'), timeoutMs);
  } finally {
    await storage.database?.close();
  }
  return finish(report, values.json === true, io);
}

function finish(report: DoctorReport, json: boolean, io: CliIo): number {
  if (json) io.stdout(formatJson(report));
  else io.stdout(`Tokenkeeper doctor (version ${tokenkeeperVersion()})\n${report.format()}`);
  return report.healthy ? EXIT_OK : EXIT_FAILURE;
}
