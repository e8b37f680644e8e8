import type { BenchService } from './bench-service.ts';
import type { LoadClient } from './load-client.ts';
import { percentile } from './statistics.ts';

export interface ExpiredBurstPlan {
  connectionId: string;
  tokenUrl: string;
  headers: Record<string, string>;
  /** Concurrent requests, each on its own (already open) keep-alive connection. */
  count: number;
  /** Added latency of the sandbox's token endpoint; 0 is the sandbox's default. */
  providerLatencyMs: number;
  /** Spread the burst over these token URLs in turn (one per process) instead of `tokenUrl` alone. */
  spreadUrls?: string[];
  /**
   * Pause between making the connection expired and the burst: other processes may serve their
   * cached copy of the row for up to a second (invariant 10), and the burst must find it expired.
   */
  settleMs?: number;
}

export interface ExpiredBurstResult {
  providerLatencyMs: number;
  count: number;
  /** Token-endpoint calls with grant_type=refresh_token that reached the sandbox. */
  refreshCalls: number;
  answered200: number;
  statuses: Record<string, number>;
  distinctTokens: number;
  /** The one token served is not the expired one. */
  tokenChanged: boolean;
  /** The served token works at the provider's API (GET /api/me). */
  tokenAccepted: boolean;
  /** Milliseconds. */
  waitP50: number;
  waitP99: number;
  waitMax: number;
  wallMs: number;
  /** Duration of the one refresh as Tokenkeeper timed it (token.refreshed event). */
  refreshDurationMs: number | null;
  sampleFailures: string[];
  passed: boolean;
}

/**
 * Invariant 2 under load. The connection is made expired through the public API: the import
 * route (`POST /v1/connections`) re-imports its current access token for the same owner and
 * provider account with `expires_at` in the past and no `refresh_token`, which updates the
 * connection in place and keeps its real, unused refresh token (invariant 3). Moving the
 * service's clock instead would put it ahead of the provider's, and the provider's fresh ID
 * token would then look expired. Then `count` requests for the token arrive at once. Exactly
 * one refresh call may reach the provider (the sandbox rotates refresh tokens with reuse
 * detection, so a second call would even revoke the grant) and every caller must get the same
 * new token.
 */
export async function measureExpiredBurst(service: BenchService, load: LoadClient, plan: ExpiredBurstPlan): Promise<ExpiredBurstResult> {
  const { sandbox, running } = service;
  const before = await fetchToken(plan.tokenUrl, plan.headers);
  await expireConnection(service, plan.connectionId, before, plan.headers);
  if (plan.settleMs) await new Promise((resolve) => setTimeout(resolve, plan.settleMs));

  sandbox.resetFaults();
  if (plan.providerLatencyMs > 0) sandbox.setFaults({ latencyMs: plan.providerLatencyMs });
  sandbox.resetStats();
  const refreshDurations: number[] = [];
  const unsubscribe = running.tk.events.on('token.refreshed', (event) => {
    refreshDurations.push(event.durationMs);
  });
  let burst;
  try {
    burst = await load.burst({ url: plan.tokenUrl, urls: plan.spreadUrls, headers: plan.headers, count: plan.count });
  } finally {
    unsubscribe();
    sandbox.resetFaults();
  }
  const refreshCalls = sandbox.stats().byGrantType.refresh_token ?? 0;
  const answered200 = burst.statuses['200'] ?? 0;
  const servedToken = burst.distinctAccessTokens.length === 1 ? burst.distinctAccessTokens[0]! : null;
  const tokenChanged = servedToken !== null && servedToken !== before.access_token;
  const tokenAccepted = servedToken !== null && (await acceptedByProvider(sandbox.url, servedToken));
  return {
    providerLatencyMs: plan.providerLatencyMs,
    count: plan.count,
    refreshCalls,
    answered200,
    statuses: burst.statuses,
    distinctTokens: burst.distinctAccessTokens.length,
    tokenChanged,
    tokenAccepted,
    waitP50: percentile(burst.latenciesMs, 50),
    waitP99: percentile(burst.latenciesMs, 99),
    waitMax: Math.max(...burst.latenciesMs),
    wallMs: burst.wallMs,
    refreshDurationMs: refreshDurations.length > 0 ? refreshDurations[0]! : null,
    sampleFailures: burst.sampleFailures,
    passed: refreshCalls === 1 && answered200 === plan.count && burst.distinctAccessTokens.length === 1 && tokenChanged && tokenAccepted,
  };
}

async function expireConnection(
  service: BenchService,
  connectionId: string,
  current: { access_token: string; scopes: string[] | null },
  headers: Record<string, string>,
): Promise<void> {
  const shown = await fetch(`${service.url}/v1/connections/${connectionId}`, { headers });
  const connection = (await shown.json()) as { owner_id: string; account_id: string; integration: string };
  if (shown.status !== 200) throw new Error(`GET connection: ${shown.status} ${JSON.stringify(connection)}`);
  const imported = await fetch(`${service.url}/v1/connections`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({
      integration: connection.integration,
      owner_id: connection.owner_id,
      account_id: connection.account_id,
      access_token: current.access_token,
      scopes: current.scopes,
      expires_at: new Date(Date.now() - 60_000).toISOString(),
    }),
  });
  const body = (await imported.json()) as { id?: string; expires_at?: string };
  if (imported.status !== 200 || body.id !== connectionId) {
    throw new Error(`re-import with expires_at in the past did not update the connection: ${imported.status} ${JSON.stringify(body)}`);
  }
}

export interface TokenAnswer {
  access_token: string;
  expires_at: string;
  scopes: string[] | null;
  /** The raw body. */
  text: string;
}

export async function fetchToken(url: string, headers: Record<string, string>): Promise<TokenAnswer> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${new URL(url).pathname}: ${response.status} ${text.slice(0, 300)}`);
  return { ...(JSON.parse(text) as Omit<TokenAnswer, 'text'>), text };
}

async function acceptedByProvider(sandboxUrl: string, accessToken: string): Promise<boolean> {
  const response = await fetch(`${sandboxUrl}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  await response.body?.cancel();
  return response.status === 200;
}
