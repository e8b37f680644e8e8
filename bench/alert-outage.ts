import type { AlertChannel, GroupNotification } from '../src/alerts/index.ts';
import { startHarness } from '../test/helpers/harness.ts';

export interface OutageResult {
  connections: number;
  simulatedMinutes: number;
  firingNotifications: number;
  resolvedNotifications: number;
  /** The firing notifications' texts, in order. */
  firingTexts: string[];
  alertsRecorded: number;
  providerCalls: number;
}

const CONNECTIONS = 100;
const OUTAGE_MINUTES = 60;
const AFTER_MINUTES = 30;
const STEP_MS = 5_000;

/**
 * One provider down for an hour with 100 connected accounts, on a manual clock, with the
 * default notification policy and a one-minute sweep: the clock moves in 5 s steps and every
 * job's tick runs at each step as the scheduler would run it. Tokens live an hour (Google's), and
 * the outage starts five minutes before they are due, so they expire while the provider is down.
 * Every notification a channel would get is counted.
 */
export async function measureOutage(print: (text?: string) => void): Promise<OutageResult> {
  const sent: GroupNotification[] = [];
  const channel: AlertChannel = { name: 'webhook', minSeverity: 'LOW', send: async (notification) => void sent.push(notification) };
  const h = await startHarness({
    alertChannels: [channel],
    sandbox: { accessTokenTtlSeconds: 3600 },
    env: { TOKENKEEPER_SWEEP_INTERVAL: '60', TOKENKEEPER_LOG_LEVEL: 'error' },
  });
  try {
    // The sandbox signs ID tokens on the real clock, and Tokenkeeper checks them against its own:
    // the simulated two and a half hours run in the past, so they end before the real now.
    h.clock.set(Date.now() - 3 * 3_600_000);
    for (let n = 1; n <= CONNECTIONS; n++) await h.connect(`outage-${n}`, `outage-${n}`);
    const step = async (): Promise<void> => {
      h.clock.advance(STEP_MS);
      for (const name of h.tk.jobs.names()) await h.tk.jobs.tick(name);
      await h.tk.events.settled();
    };
    const run = async (minutes: number): Promise<void> => {
      for (let elapsed = 0; elapsed < minutes * 60_000; elapsed += STEP_MS) await step();
    };
    await run(55);
    if (sent.length > 0) throw new Error(`notifications before the outage: ${sent.map((notification) => notification.text).join('; ')}`);
    h.sandbox.resetStats();
    h.sandbox.setFaults({ errorRate5xx: 1 });
    print(`   ${CONNECTIONS} accounts connected; the provider answers 503 for ${OUTAGE_MINUTES} simulated minutes`);
    await run(OUTAGE_MINUTES);
    const providerCalls = h.sandbox.stats().byGrantType.refresh_token ?? 0;
    h.sandbox.resetFaults();
    await run(AFTER_MINUTES);
    const firing = sent.filter((notification) => notification.kind === 'firing');
    return {
      connections: CONNECTIONS,
      simulatedMinutes: OUTAGE_MINUTES + AFTER_MINUTES,
      firingNotifications: firing.length,
      resolvedNotifications: sent.filter((notification) => notification.kind === 'resolved').length,
      firingTexts: firing.map((notification) => notification.text),
      alertsRecorded: (await h.tk.alerts.list()).length,
      providerCalls,
    };
  } finally {
    await h.close();
  }
}
