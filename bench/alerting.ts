/**
 * `npm run bench -- --alerts`: what operator alerting costs and how fast it is.
 *  1. Time to awareness: a sandbox grant is revoked, a refresh fails permanently, and the clock
 *     runs (real time, default policy: 30 s group_wait) until a local webhook receiver has the
 *     operator notification; the application's `connection.needs_reauth` webhook is timed too.
 *  2. A simulated one-hour outage of one provider with 100 affected connections, on a manual
 *     clock: every notification any channel would get is counted (the aim: one grouped
 *     notification, repeats only per repeat_interval, one resolution notice).
 *  3. Token-route throughput on a service whose alert channel hangs (accepts connections, never
 *     answers) while alerts keep firing, against a service with no alerting, run alternately.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateWebhookSecret } from '../src/delivery/standard-webhooks.ts';
import { startBenchService, type BenchService } from './bench-service.ts';
import { measureOutage, type OutageResult } from './alert-outage.ts';
import { LoadClient } from './load-client.ts';
import type { AutocannonSummary } from './load-messages.ts';
import type { BenchOptions } from './options.ts';
import { autocannonHeader, autocannonRow, milliseconds } from './report.ts';
import { median, round } from './statistics.ts';

const CONNECTIONS = 50;
const ROUNDS = 5;
const THROUGHPUT_RATIO_AIM = 0.95;
const AWARENESS_AIM_MS = 60_000;

interface Received {
  at: number;
  path: string;
  body: Record<string, unknown>;
}

/** A local webhook receiver: records every POST (time, path, JSON body) and answers 204. */
async function startReceiver(): Promise<{ url: string; received: Received[]; waitFor(path: string, since: number, timeoutMs: number): Promise<Received | null>; close(): Promise<void> }> {
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((request, response) => {
    void readBody(request).then((text) => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // not JSON: kept empty
      }
      received.push({ at: performance.now(), path: request.url ?? '/', body });
      response.writeHead(204).end();
      for (const wake of waiters) wake();
    });
  });
  await listen(server);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    waitFor: (path, since, timeoutMs) =>
      new Promise((resolve) => {
        const check = (): boolean => {
          const hit = received.find((entry) => entry.path === path && entry.at >= since);
          if (!hit) return false;
          waiters.delete(wake);
          clearTimeout(timer);
          resolve(hit);
          return true;
        };
        const wake = (): void => void check();
        const timer = setTimeout(() => {
          waiters.delete(wake);
          resolve(null);
        }, timeoutMs);
        waiters.add(wake);
        check();
      }),
    close: () => closeServer(server),
  };
}

/** A server that accepts connections and never answers: the channel that hangs. */
async function startHangingServer(): Promise<{ url: string; requests: () => number; close(): Promise<void> }> {
  let requests = 0;
  const server = createServer(() => {
    requests++;
  });
  await listen(server);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: () => {
      server.closeAllConnections();
      return closeServer(server);
    },
  };
}

export interface AwarenessResult {
  operatorMs: number | null;
  applicationMs: number | null;
  notificationText: string | null;
}

async function measureAwareness(print: (text?: string) => void): Promise<AwarenessResult> {
  const receiver = await startReceiver();
  let service: BenchService | null = null;
  try {
    service = await startBenchService({
      startScheduler: true,
      env: {
        TOKENKEEPER_SWEEP_INTERVAL: '60',
        TOKENKEEPER_ALERT_WEBHOOK_URL: `${receiver.url}/operator`,
        TOKENKEEPER_ALERT_WEBHOOK_SECRET: generateWebhookSecret(),
        TOKENKEEPER_APP_WEBHOOK_URL: `${receiver.url}/app`,
        TOKENKEEPER_APP_WEBHOOK_SECRET: generateWebhookSecret(),
      },
    });
    const connectionId = await service.connectAccount('awareness-user');
    await service.sandbox.revokeGrants();
    // The refresh that first fails permanently: its answer is the start of the clock.
    const refreshed = await fetch(`${service.url}/v1/connections/${connectionId}/refresh`, {
      method: 'POST',
      headers: { authorization: `Bearer ${service.apiKey}` },
    });
    await refreshed.body?.cancel();
    const failedAt = performance.now();
    if (refreshed.status !== 409) throw new Error(`expected the refresh of a revoked grant to answer 409, got ${refreshed.status}`);
    print(`   grant revoked, refresh answered 409; waiting for the notifications (default policy: group_wait 30 s)`);
    const [operator, application] = await Promise.all([
      receiver.waitFor('/operator', failedAt - 1, 120_000),
      receiver.waitFor('/app', failedAt - 1, 120_000),
    ]);
    const text = operator ? String((operator.body as { data?: { text?: unknown } }).data?.text ?? '') : null;
    return {
      operatorMs: operator ? operator.at - failedAt : null,
      applicationMs: application ? application.at - failedAt : null,
      notificationText: text,
    };
  } finally {
    await service?.close();
    await receiver.close();
  }
}

export interface HangingChannelResult {
  quiet: AutocannonSummary[];
  hanging: AutocannonSummary[];
  quietRps: number;
  hangingRps: number;
  /** Median of the per-round ratios (hanging ÷ the quiet run before it). */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  /** Share of one core the storm and the hanging channel cost this process (idle windows). */
  alertingCoreShare: number;
  /** This process's CPU time over 5 s without requests: storm off, then on. */
  idleCpuMs: number;
  stormCpuMs: number;
  alertsRaised: number;
  channelRequests: number;
}

async function measureHangingChannel(options: BenchOptions, load: LoadClient, print: (text?: string) => void): Promise<HangingChannelResult> {
  const hanging = await startHangingServer();
  let quiet: BenchService | null = null;
  let alerting: BenchService | null = null;
  let storm: NodeJS.Timeout | null = null;
  let raised = 0;
  try {
    quiet = await startBenchService({});
    alerting = await startBenchService({
      startScheduler: true,
      env: {
        TOKENKEEPER_ALERT_WEBHOOK_URL: `${hanging.url}/hook`,
        TOKENKEEPER_ALERT_WEBHOOK_SECRET: generateWebhookSecret(),
        TOKENKEEPER_ALERT_SLACK_WEBHOOK_URL: `${hanging.url}/slack`,
        TOKENKEEPER_ALERT_GROUP_WAIT: '1s',
        TOKENKEEPER_ALERT_GROUP_INTERVAL: '1s',
      },
    });
    const routes = await Promise.all(
      [quiet, alerting].map(async (service) => ({
        url: `${service.url}/v1/connections/${await service.connectAccount('throughput-user')}/token`,
        headers: { authorization: `Bearer ${service.apiKey}` },
      })),
    );
    const tk = alerting.running.tk;
    // Alerts keep firing (ten a second, in 20 integrations' groups), so notifications keep going
    // to the hanging channels: sends time out, are retried, and the fallback logs them.
    const startStorm = (): void => {
      storm = setInterval(() => {
        raised++;
        void tk.alerts
          .raise({
            type: 'connection_needs_reauth',
            key: `con_bench_${raised}`,
            severity: 'HIGH',
            labels: { integration: `bench-${raised % 20}` },
            summary: `bench connection ${raised} needs re-authorization`,
          })
          .catch(() => undefined);
      }, 100);
    };
    const stopStorm = (): void => {
      if (storm) clearInterval(storm);
      storm = null;
    };
    const run = (route: { url: string; headers: Record<string, string> }, durationSeconds: number) =>
      load.autocannon({ url: route.url, headers: route.headers, connections: CONNECTIONS, durationSeconds });
    const warmup = Math.min(2, options.durationSeconds);
    await run(routes[0]!, warmup);
    startStorm();
    await run(routes[1]!, warmup);
    stopStorm();
    print(`   ${autocannonHeader()}`);
    const quietRuns: AutocannonSummary[] = [];
    const hangingRuns: AutocannonSummary[] = [];
    for (let roundNumber = 1; roundNumber <= ROUNDS; roundNumber++) {
      const calm = await run(routes[0]!, options.durationSeconds);
      quietRuns.push(calm);
      print(`   ${autocannonRow(`no alerting #${roundNumber}`, calm)}`);
      startStorm();
      const busy = await run(routes[1]!, options.durationSeconds);
      stopStorm();
      hangingRuns.push(busy);
      print(`   ${autocannonRow(`hanging channel #${roundNumber}`, busy)}`);
    }
    // What the alerting itself costs, free of the load generator's noise: this process's CPU
    // time over idle windows (no requests), with the storm on against off.
    const cpuOver = async (ms: number): Promise<number> => {
      const start = process.cpuUsage();
      await new Promise((resolve) => setTimeout(resolve, ms));
      const used = process.cpuUsage(start);
      return (used.user + used.system) / 1000;
    };
    const idleCpuMs = await cpuOver(5_000);
    startStorm();
    const stormCpuMs = await cpuOver(5_000);
    stopStorm();
    const alertingCoreShare = (stormCpuMs - idleCpuMs) / 5_000;
    const quietRps = median(quietRuns.map((summary) => summary.requestsPerSecond));
    const hangingRps = median(hangingRuns.map((summary) => summary.requestsPerSecond));
    // Each hanging run against the quiet run just before it: adjacent runs share the machine's
    // mood (two cores, a shared VM), so the paired ratios vary less than the runs themselves.
    const ratios = hangingRuns.map((summary, index) => summary.requestsPerSecond / quietRuns[index]!.requestsPerSecond);
    return {
      quiet: quietRuns,
      hanging: hangingRuns,
      quietRps,
      hangingRps,
      ratio: median(ratios),
      ratioMin: Math.min(...ratios),
      ratioMax: Math.max(...ratios),
      alertingCoreShare,
      idleCpuMs,
      stormCpuMs,
      alertsRaised: raised,
      channelRequests: hanging.requests(),
    };
  } finally {
    if (storm) clearInterval(storm);
    await alerting?.close();
    await quiet?.close();
    await hanging.close();
  }
}

export async function runAlertingBench(options: BenchOptions, print: (text?: string) => void): Promise<number> {
  const startedAt = performance.now();
  print('Tokenkeeper alerting benchmark');
  print('  embedded shape: SQLite (WAL) in temp dirs, sandbox provider and local receivers on 127.0.0.1\n');

  print('1. Time to awareness (real time, default policy)');
  const awareness = await measureAwareness(print);
  print(`   operator notification ${awareness.operatorMs === null ? 'NOT RECEIVED' : milliseconds(awareness.operatorMs)} after the failed refresh (aim <= ${AWARENESS_AIM_MS / 1000} s): "${awareness.notificationText ?? ''}"`);
  print(`   application webhook connection.needs_reauth ${awareness.applicationMs === null ? 'NOT RECEIVED' : milliseconds(awareness.applicationMs)} after it`);

  print('\n2. One provider down for an hour, 100 affected connections (manual clock, default policy)');
  const outage: OutageResult = await measureOutage(print);
  print(`   notifications while firing: ${outage.firingNotifications} (${outage.firingTexts.join(' | ')}); resolution notices: ${outage.resolvedNotifications}`);
  print(`   alerts recorded: ${outage.alertsRecorded}; refresh attempts at the provider: ${outage.providerCalls}`);

  print('\n3. GET /v1/connections/:id/token while the alert channel hangs vs a service without alerting');
  const load = new LoadClient();
  let hanging: HangingChannelResult;
  try {
    hanging = await measureHangingChannel(options, load, print);
  } finally {
    await load.close();
  }
  print(
    `   this process's CPU time over 5 s without requests: ${round(hanging.idleCpuMs)} ms quiet, ${round(hanging.stormCpuMs)} ms with the alerts firing and the channels hanging (${round(100 * hanging.alertingCoreShare, 1)} % of one core)\n` +
      `   ratio ${round(hanging.ratio, 3)}, median of ${ROUNDS} paired runs (${round(hanging.ratioMin, 2)} to ${round(hanging.ratioMax, 2)}; aim >= ${THROUGHPUT_RATIO_AIM}); ${hanging.alertsRaised} alerts raised, ${hanging.channelRequests} requests left hanging at the channel`,
  );

  const passed = awareness.operatorMs !== null && awareness.applicationMs !== null;
  const totalSeconds = round((performance.now() - startedAt) / 1000, 1);
  print(`\n${passed ? 'All checks passed' : 'SOME CHECKS FAILED'} in ${totalSeconds} s.`);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'tokenkeeper-alerts',
      passed,
      time_to_awareness_ms: awareness.operatorMs === null ? null : Math.round(awareness.operatorMs),
      app_webhook_ms: awareness.applicationMs === null ? null : Math.round(awareness.applicationMs),
      outage: {
        connections: outage.connections,
        simulated_minutes: outage.simulatedMinutes,
        firing_notifications: outage.firingNotifications,
        resolved_notifications: outage.resolvedNotifications,
        alerts_recorded: outage.alertsRecorded,
      },
      hanging_channel: {
        quiet_rps: round(hanging.quietRps),
        hanging_rps: round(hanging.hangingRps),
        ratio: round(hanging.ratio, 3),
        ratio_min: round(hanging.ratioMin, 3),
        ratio_max: round(hanging.ratioMax, 3),
        alerting_core_share: round(hanging.alertingCoreShare, 4),
        idle_cpu_ms: round(hanging.idleCpuMs),
        storm_cpu_ms: round(hanging.stormCpuMs),
        alerts_raised: hanging.alertsRaised,
      },
      total_s: totalSeconds,
    })}\n`,
  );
  return passed ? 0 : 1;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', () => resolve(''));
  });
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
