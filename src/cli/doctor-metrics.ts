import { isIP } from 'node:net';
import type { Config } from '../config/index.ts';
import type { CheckLine } from './doctor-report.ts';

/** 127.0.0.0/8, ::1 and `localhost`: only this machine can connect. */
function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * `/metrics` needs no credential unless TOKENKEEPER_METRICS_TOKEN is set. On a loopback
 * interface, or in development, that is fine; a production instance listening on every
 * interface (or a routable address) shows its integration keys, connection counts and failure
 * rates to anyone who can reach it. A warning, not a failure: a private network or a proxy in
 * front may well be protecting it.
 */
export function checkMetricsExposure(config: Readonly<Config>): CheckLine | null {
  if (config.env !== 'production' || config.metricsToken !== null || isLoopback(config.host)) return null;
  return {
    status: 'warn',
    text: `/metrics is served without a token on ${config.host} (TOKENKEEPER_HOST), to anyone who can reach port ${config.port}`,
    hint: 'set TOKENKEEPER_METRICS_TOKEN (at least 16 characters) and give it to the scraper as its bearer token, or keep the port off public networks',
  };
}
