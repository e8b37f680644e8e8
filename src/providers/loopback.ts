import { isIP } from 'node:net';

/**
 * True for hosts that can only be this machine: `localhost`, 127.0.0.0/8 and ::1. Plain http is
 * allowed only there (the sandbox, tests); everywhere else OAuth requires TLS (RFC 6749 §10.9, and
 * oauth4webapi refuses http unless told otherwise).
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.split('.')[0] === '127';
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/** https anywhere, or http on a loopback host. */
export function isAllowedEndpointUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && isLoopbackHost(url.hostname);
}

/** Whether requests to this URL need oauth4webapi's `allowInsecureRequests` (http on loopback). */
export function needsInsecureTransport(value: string): boolean {
  const url = new URL(value);
  return url.protocol === 'http:' && isLoopbackHost(url.hostname);
}
