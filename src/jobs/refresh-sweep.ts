import type { Clock } from '../clock.ts';
import type { ConnectionService, TokenService } from '../tokens/index.ts';
import type { IntegrationService } from '../integrations/index.ts';
import type { Logger } from '../logger.ts';
import { getProvider } from '../providers/index.ts';
import { listDueForRefresh, listIdleSince, type Database } from '../store/index.ts';
import { sleep } from '../tokens/index.ts';

export interface JobReport {
  job: string;
  checked: number;
  refreshed: number;
  failed: number;
  needs_reauth: number;
  duration_ms: number;
}

export interface RefreshSweepDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  tokens: TokenService;
  connections: ConnectionService;
  integrations: IntegrationService;
  /** Largest random delay before each refresh, so a batch expiring together is spread out. */
  jitterMs: number;
  /** How many refreshes run at once overall (each provider also has its own limiter). */
  concurrency: number;
  batchSize?: number;
}

const DAY_MS = 86_400_000;

/**
 * The proactive sweep: refreshes every active or degraded connection whose remaining lifetime
 * is under max(buffer, 25 % of its lifetime), exercises refresh tokens that die when unused
 * (at half their provider's idle limit), and keeps system connections minted. Everything goes
 * through `TokenService.refreshIfDue`, the same single-flight path requests use, so a sweep and a
 * request racing for one connection still make one refresh.
 */
export async function runRefreshSweep(deps: RefreshSweepDeps): Promise<JobReport> {
  const startedAt = performance.now();
  const now = deps.clock.now();
  const report: JobReport = { job: 'refresh', checked: 0, refreshed: 0, failed: 0, needs_reauth: 0, duration_ms: 0 };
  const batch = deps.batchSize ?? 1000;

  const due = await listDueForRefresh(deps.db, now, batch);
  const integrations = await deps.integrations.list();
  const idleIntegrations = integrations.flatMap((integration) => {
    const maxIdleDays = maxIdleDaysOf(integration.provider, integration.settings);
    return integration.enabled && integration.failingSince === null && maxIdleDays !== null ? [{ integrationId: integration.id, idleSince: now - (maxIdleDays * DAY_MS) / 2 }] : [];
  });
  const dueIds = new Set(due.map((row) => row.id));
  const idle = (await listIdleSince(deps.db, idleIntegrations, now, batch)).filter((row) => !dueIds.has(row.id));

  const work: { id: string; trigger: 'sweep' | 'idle' }[] = [
    ...due.map((row) => ({ id: row.id, trigger: 'sweep' as const })),
    ...idle.map((row) => ({ id: row.id, trigger: 'idle' as const })),
  ];
  report.checked = work.length;

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < work.length && !deps.tokens.isDraining()) {
      const item = work[next++]!;
      if (deps.jitterMs > 0) await sleep(Math.floor(Math.random() * deps.jitterMs));
      const outcome = await deps.tokens.refreshIfDue(item.id, item.trigger);
      if (outcome === 'refreshed') report.refreshed++;
      else if (outcome === 'failed') report.failed++;
      else if (outcome === 'needs_reauth') report.needs_reauth++;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(deps.concurrency, work.length)) }, worker));

  // System connections minted by client credentials: make sure one exists.
  for (const integration of integrations) {
    if (deps.tokens.isDraining()) break;
    if (integration.failingSince !== null) continue;
    if (integration.systemGrant !== 'client_credentials' || !integration.enabled) continue;
    try {
      await deps.connections.ensureSystemConnection(integration.key);
    } catch (error) {
      report.failed++;
      deps.logger.warn('could not mint the system connection', { integration: integration.key, error });
    }
  }
  report.duration_ms = Math.round(performance.now() - startedAt);
  return report;
}

/** The integration's setting, else the provider catalog's idle limit for refresh tokens. */
function maxIdleDaysOf(providerKey: string, settings: Record<string, unknown>): number | null {
  const override = settings.refreshTokenMaxIdleDays;
  if (typeof override === 'number') return override;
  if (override === null) return null;
  return getProvider(providerKey)?.refresh.maxIdleDays ?? null;
}
