/**
 * What the benchmark's parent and its load-generating child process say to each other over
 * the IPC channel. Load runs in a separate process so that generating and parsing requests
 * does not share the service's event loop (on a 2-core machine: one core each).
 */

export interface AutocannonRequest {
  type: 'autocannon';
  url: string;
  headers: Record<string, string>;
  connections: number;
  durationSeconds: number;
  /**
   * Request these paths of `url`'s origin in turn, one shared sequence for all connections,
   * instead of `url` itself (the cold-cache run walks a shuffled list of connection ids).
   */
  paths?: string[];
}

export interface BurstRequest {
  type: 'burst';
  url: string;
  headers: Record<string, string>;
  /** How many requests to start at once, each on its own keep-alive connection. */
  count: number;
  /** Spread the requests over these URLs in turn (several processes) instead of `url` alone. */
  urls?: string[];
}

export type LoadRequest = AutocannonRequest | BurstRequest;

export interface AutocannonSummary {
  requestsPerSecond: number;
  /** Milliseconds. */
  latencyP50: number;
  latencyP99: number;
  latencyMax: number;
  totalRequests: number;
  responses2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Response body bytes per second. */
  bytesPerSecond: number;
}

export interface BurstSummary {
  /** Per request, milliseconds from asking to the last byte of the answer. */
  latenciesMs: number[];
  /** Status code → count; 0 counts transport errors. */
  statuses: Record<string, number>;
  /** Distinct `access_token` values among the 200 answers. */
  distinctAccessTokens: string[];
  /** Milliseconds from the first request started to the last one answered. */
  wallMs: number;
  /** A few error messages or non-200 bodies, for the report. */
  sampleFailures: string[];
}

export type LoadResponse =
  | { id: number; ok: true; result: AutocannonSummary | BurstSummary }
  | { id: number; ok: false; error: string };
