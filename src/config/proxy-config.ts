import type { VariableReader } from './variable-reader.ts';

/**
 * Limits of the authenticated proxy to provider APIs (`/v1/proxy/:connection_id/<path>`,
 * `tk.proxy.fetch`; docs/proxy.md). Each one bounds what a single proxied call can cost this
 * instance: a provider that never answers, an answer that never ends, a `Retry-After` of a day.
 */
export interface ProxyConfig {
  /**
   * `TOKENKEEPER_PROXY_TIMEOUT_MS`: how long the provider may take to answer with its status and
   * headers, and the longest silence while a body streams either way. Default 30000.
   */
  timeoutMs: number;
  /**
   * `TOKENKEEPER_PROXY_MAX_RESPONSE_BYTES`: the largest answer body passed back (as sent, before
   * any decompression). A declared larger one is a 502 `proxy_response_too_large` before anything
   * is sent; one that only turns out larger is cut off. Default 52428800 (50 MiB).
   */
  maxResponseBytes: number;
  /** `TOKENKEEPER_PROXY_MAX_RETRIES`: retries after a 429 or 503 (idempotent calls only). Default 2. */
  maxRetries: number;
  /**
   * `TOKENKEEPER_PROXY_MAX_RETRY_WAIT`: the longest `Retry-After` the proxy waits out before a
   * retry, in seconds; a provider asking for longer gets its answer passed back. Default 10.
   */
  maxRetryWaitSeconds: number;
}

/** Reads and checks the proxy variables; problems are recorded on `read`. */
export function readProxyConfig(read: VariableReader): ProxyConfig {
  return {
    timeoutMs: read.integer('TOKENKEEPER_PROXY_TIMEOUT_MS', 30_000, { min: 100, max: 600_000, unit: 'milliseconds' }),
    maxResponseBytes: read.integer('TOKENKEEPER_PROXY_MAX_RESPONSE_BYTES', 52_428_800, { min: 1_024, max: 10_737_418_240, unit: 'bytes' }),
    maxRetries: read.integer('TOKENKEEPER_PROXY_MAX_RETRIES', 2, { min: 0, max: 10, unit: 'retries' }),
    maxRetryWaitSeconds: read.duration('TOKENKEEPER_PROXY_MAX_RETRY_WAIT', 10, { min: 0, max: 300 }),
  };
}
