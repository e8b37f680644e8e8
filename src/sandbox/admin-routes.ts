import type { IncomingMessage, ServerResponse } from 'node:http';
import { isTokenkeeperError } from '../errors.ts';
import { parseMintGrants, type MintedGrant, type MintGrantsOptions } from './bulk-grants.ts';
import type { SandboxFaults } from './faults.ts';
import { BodyTooLargeError, isCrossSiteRequest, isLoopbackAddress, readBody, sendError, sendJson } from './http-helpers.ts';
import type { SandboxStats } from './token-request-stats.ts';

/** What the admin routes control; implemented by the running sandbox. */
export interface SandboxControls {
  faults(): SandboxFaults;
  setFaults(partial: Partial<SandboxFaults>): void;
  resetFaults(): void;
  revokeGrants(accountId?: string): Promise<number>;
  expireAccessTokens(accountId?: string): Promise<number>;
  mintGrants(options: MintGrantsOptions): Promise<MintedGrant[]>;
  stats(): SandboxStats;
  resetStats(): void;
}

const JSON_LIMIT_BYTES = 16 * 1024;

/**
 * `/_sandbox/*`: the fault switches, grant revocation, access tokens expired early
 * (`POST /_sandbox/expire-access-tokens`, optionally `{"account_id": …}`), bulk grants (`POST /_sandbox/grants` with
 * `{"count": N, "account_prefix": "load-"}`) and stats over HTTP, for tests, demos and load tests
 * that drive a sandbox running in another process (`tokenkeeper sandbox`).
 *
 * No authentication: they answer only requests that arrive from a loopback address, which is
 * enough for a development tool, and 404 otherwise so the routes do not advertise themselves
 * when someone binds the sandbox to a LAN address.
 *
 * A loopback address is also where the developer's browser connects from, so any page they visit
 * could POST here (a cross-origin `text/plain` POST needs no CORS preflight) and revoke their
 * grants. Browsers name the page behind every POST in `Origin` and `Sec-Fetch-Site`; a POST that
 * names any page but the sandbox's own is refused before it changes anything. Tools (curl,
 * Node's fetch, the tests) send neither header and keep working whatever their Content-Type:
 * requiring `application/json` would refuse `curl -d` (form-encoded) and `fetch` with a string
 * body (`text/plain`) without keeping out any browser that the headers do not.
 */
export function createAdminRoutes(controls: SandboxControls) {
  return async function handleAdmin(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (!isLoopbackAddress(req.socket.remoteAddress)) {
      sendError(res, 404, 'route_not_found', 'No such route.');
      return;
    }
    if (req.method === 'POST' && isCrossSiteRequest(req)) {
      sendError(res, 403, 'cross_origin_request', 'The sandbox switches take requests from tools and from the sandbox itself, not from other web pages.');
      return;
    }
    const route = `${req.method} ${path}`;
    try {
      switch (route) {
        case 'GET /_sandbox/faults':
          sendJson(res, 200, controls.faults());
          return;
        case 'POST /_sandbox/faults':
          controls.setFaults((await readJson(req)) as Partial<SandboxFaults>);
          sendJson(res, 200, controls.faults());
          return;
        case 'POST /_sandbox/faults/reset':
          controls.resetFaults();
          sendJson(res, 200, controls.faults());
          return;
        case 'POST /_sandbox/revoke': {
          const body = (await readJson(req)) as { account_id?: unknown };
          if (body.account_id !== undefined && (typeof body.account_id !== 'string' || body.account_id === '')) {
            sendError(res, 400, 'invalid_request', 'account_id must be a non-empty string when given.');
            return;
          }
          sendJson(res, 200, { revoked: await controls.revokeGrants(body.account_id) });
          return;
        }
        case 'POST /_sandbox/expire-access-tokens': {
          const body = (await readJson(req)) as { account_id?: unknown };
          if (body.account_id !== undefined && (typeof body.account_id !== 'string' || body.account_id === '')) {
            sendError(res, 400, 'invalid_request', 'account_id must be a non-empty string when given.');
            return;
          }
          sendJson(res, 200, { expired: await controls.expireAccessTokens(body.account_id) });
          return;
        }
        case 'POST /_sandbox/grants': {
          const minted = await controls.mintGrants(parseMintGrants(await readJson(req)));
          sendJson(res, 200, { grants: minted.map((grant) => ({ account_id: grant.accountId, refresh_token: grant.refreshToken, scope: grant.scope })) });
          return;
        }
        case 'GET /_sandbox/stats':
          sendJson(res, 200, controls.stats());
          return;
        case 'POST /_sandbox/stats/reset':
          controls.resetStats();
          sendJson(res, 200, controls.stats());
          return;
        default:
          sendError(res, 404, 'route_not_found', 'No such route.');
      }
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        sendError(res, 413, 'payload_too_large', 'The request body is too large.');
      } else if (error instanceof SyntaxError) {
        sendError(res, 400, 'invalid_json', 'The request body is not valid JSON.');
      } else if (isTokenkeeperError(error)) {
        sendError(res, error.status, error.code, error.message);
      } else {
        throw error;
      }
    }
  };
}

/** An empty body counts as `{}` so `curl -X POST …/_sandbox/revoke` works without -d. */
async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = (await readBody(req, JSON_LIMIT_BYTES)).toString('utf8').trim();
  if (text === '') return {};
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SyntaxError('expected a JSON object');
  }
  return value as Record<string, unknown>;
}
