/**
 * The upstream API of `npm run bench -- --proxy`, run as a child process by
 * bench/upstream-process.ts (never directly): a plain node:http server standing in for a
 * provider's API. In a process of its own, as a provider is on a host of its own: sharing
 * Tokenkeeper's event loop would bill the proxied run for the upstream's work too, and the
 * direct run would not pay it.
 *
 * `GET /items` answers a small fixed JSON body to a request whose `Authorization` is
 * `Bearer <one of the access tokens it was told about>`, 401 to any other: so each 200 of the
 * proxied run shows the proxy sent the connection's token, not the caller's API key. It answers
 * at once (in about 50 µs): the CPU-bound worst case for a proxy. `GET /items/delayed` answers
 * the same, after the delay given as this process's argument (a timer here, holding nothing
 * busy meanwhile), as a provider's API does that takes tens of milliseconds to answer.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DELAYED_ITEMS_PATH, type UpstreamCommand, type UpstreamReport } from './upstream-process.ts';

const ITEMS_BODY = JSON.stringify({
  items: [
    { id: 'itm_1', name: 'Quarterly report', updated_at: '2025-03-01T09:30:00Z' },
    { id: 'itm_2', name: 'Team offsite notes', updated_at: '2025-03-02T14:05:00Z' },
    { id: 'itm_3', name: 'Budget 2025', updated_at: '2025-03-03T17:45:00Z' },
  ],
  next_cursor: null,
});
const ITEMS_HEADERS = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(ITEMS_BODY)) };

const delayMs = Number(process.argv[2]);
let accepted = new Set<string>();

const server = createServer((request, response) => {
  const delayed = request.url === DELAYED_ITEMS_PATH;
  if (request.method !== 'GET' || (request.url !== '/items' && !delayed)) {
    response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
  } else if (!accepted.has(request.headers.authorization ?? '')) {
    response.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"' }).end('{"error":"invalid_token"}');
  } else if (delayed) {
    setTimeout(() => response.writeHead(200, ITEMS_HEADERS).end(ITEMS_BODY), delayMs);
  } else {
    response.writeHead(200, ITEMS_HEADERS).end(ITEMS_BODY);
  }
});
// Kept-alive connections stay open between runs: a server closing an idle one just as a client
// reuses it would show up as an occasional reset that no provider under load would cause.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;

const send = (report: UpstreamReport): void => void process.send?.(report);

if (!process.send || !Number.isFinite(delayMs) || delayMs < 0) {
  console.error('bench/proxy-upstream.ts is started by bench/proxy.ts; run `npm run bench -- --proxy` instead.');
  process.exit(2);
}
process.on('message', (command: UpstreamCommand) => {
  accepted = new Set(command.accessTokens.map((token) => `Bearer ${token}`));
  send({ type: 'accepting', count: accepted.size });
});
// The benchmark finished or crashed: do not linger holding the port.
process.on('disconnect', () => process.exit(0));
server.listen(0, '127.0.0.1', () => send({ type: 'listening', port: (server.address() as AddressInfo).port, bodyBytes: Buffer.byteLength(ITEMS_BODY) }));
