/**
 * What the benchmark's parent and its load-generating child process say to each other over
 * the IPC channel. Load runs in a separate process so that generating and parsing requests
 * does not share the service's event loop (on a 2-core machine: one core each).
 */

/** What one run asks for: a URL, or a list of paths of its origin, with these headers. */
export interface LoadTarget {
  url: string;
  headers: Record<string, string>;
  /**
   * Request these paths of `url`'s origin in turn, one shared sequence for all connections,
   * instead of `url` itself (the cold-cache run walks a shuffled list of connection ids).
   */
  paths?: string[];
}

export interface AutocannonRequest extends LoadTarget {
  type: 'autocannon';
  connections: number;
  durationSeconds: number;
}

/**
 * One request at a time for `durationSeconds`, to each target in turn (A, B, A, B …), each
 * target over its own single kept-alive connection: latency without queueing, and both targets
 * measured in the same moments of the machine.
 */
export interface SequenceRequest {
  type: 'sequence';
  targets: LoadTarget[];
  durationSeconds: number;
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

export type LoadRequest = AutocannonRequest | BurstRequest | SequenceRequest;

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

export interface SequenceSummary {
  /** Per target, milliseconds from asking to the last byte of each answer, in the order sent. */
  latenciesMs: number[][];
  /** Status code → count over every target; 0 counts transport errors. */
  statuses: Record<string, number>;
  sampleFailures: string[];
}

export type LoadResponse =
  | { id: number; ok: true; result: AutocannonSummary | BurstSummary | SequenceSummary }
  | { id: number; ok: false; error: string };
