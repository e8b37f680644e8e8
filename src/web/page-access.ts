import { safeEqual } from '../crypto/index.ts';

/**
 * Who may see the page. Development: anyone who can reach the listener (it binds 127.0.0.1 by
 * default). Production: nobody (the routes are not even registered, so the standard
 * `route_not_found` answers) unless `TOKENKEEPER_DASHBOARD_PASSWORD` is set, then HTTP Basic
 * authentication (RFC 7617) with any username and that password.
 */
export type PageAccess = { kind: 'open' } | { kind: 'off' } | { kind: 'password'; password: string };

export function pageAccess(config: { env: 'development' | 'production'; dashboardPassword: string | null }): PageAccess {
  if (config.env === 'development') return { kind: 'open' };
  return config.dashboardPassword === null ? { kind: 'off' } : { kind: 'password', password: config.dashboardPassword };
}

/** The challenge sent with a 401 (RFC 7617 §2). */
export const BASIC_CHALLENGE = 'Basic realm="Tokenkeeper"';

/**
 * Checks an `Authorization: Basic <base64(user:password)>` header (RFC 7617 §2). The username is
 * ignored; the password is compared in constant time so response timing does not reveal how
 * much of a guess was right.
 */
export function hasDashboardPassword(authorization: string | undefined, password: string): boolean {
  if (authorization === undefined) return false;
  const match = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(authorization);
  if (!match) return false;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  return safeEqual(decoded.slice(colon + 1), password);
}
