/**
 * `/docs` is `@fastify/swagger-ui` loaded on its first request, in an instance of its own
 * (src/http/docs-routes.ts). Here: every answer is the one the plugin gives when registered
 * directly in an app, as it was before (a reference app with the plugin and the same document),
 * headers and bytes; the routes are the plugin's own, so that a new version adding one shows up;
 * and what the plugin leaves to the app (a missing file, a refused path) is answered by the app.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import swagger, { type StaticDocumentSpec } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify';
import { DOCS_PREFIX, DOCS_ROUTES, DOCS_UI_OPTIONS } from '../src/http/docs-routes.ts';
import { startHarness, type Harness } from './helpers/harness.ts';

/** Headers that differ by nature: the app's own per request. */
const PER_REQUEST = new Set(['date', 'x-request-id', 'connection', 'keep-alive']);

function answerOf(response: Awaited<ReturnType<FastifyInstance['inject']>>): { status: number; headers: Record<string, unknown>; body: Buffer } {
  const headers = Object.fromEntries(Object.entries(response.headers).filter(([name]) => !PER_REQUEST.has(name)));
  return { status: response.statusCode, headers, body: response.rawPayload };
}

describe('/docs, loaded on first use', () => {
  let h: Harness;
  let reference: FastifyInstance;
  const referenceRoutes: string[] = [];

  before(async () => {
    h = await startHarness();
    await h.http.app.ready();
    // The app's own document object (a copy through JSON would lose its shared parts, which YAML writes once).
    const document = h.http.app.swagger() as unknown as StaticDocumentSpec['document'];
    reference = Fastify();
    reference.addHook('onRoute', (route) => {
      if (route.method !== 'HEAD') referenceRoutes.push(route.url);
    });
    await reference.register(swagger, { mode: 'static', specification: { document } });
    await reference.register(swaggerUi, DOCS_UI_OPTIONS);
    await reference.ready();
  });
  after(async () => {
    await reference.close();
    await h.close();
  });

  test('answers as the plugin registered in the app: pages, documents, assets, HEAD, conditional and range requests', async () => {
    const asset = await reference.inject({ method: 'GET', url: '/docs/static/swagger-ui.css' });
    const requests: InjectOptions[] = [
      { method: 'GET', url: '/docs' },
      { method: 'GET', url: '/docs/' },
      { method: 'HEAD', url: '/docs' },
      { method: 'GET', url: '/docs/static/index.html' },
      { method: 'GET', url: '/docs/static/swagger-initializer.js' },
      { method: 'GET', url: '/docs/json' },
      { method: 'HEAD', url: '/docs/json' },
      { method: 'GET', url: '/docs/yaml?x=1' },
      { method: 'GET', url: '/docs/static/swagger-ui-bundle.js' },
      { method: 'HEAD', url: '/docs/static/swagger-ui-bundle.js' },
      { method: 'GET', url: '/docs/static/favicon-32x32.png' },
      { method: 'GET', url: '/docs/static/swagger-ui.css', headers: { 'if-none-match': String(asset.headers.etag) } },
      { method: 'GET', url: '/docs/static/swagger-ui.css', headers: { range: 'bytes=0-99' } },
    ];
    for (const request of requests) {
      const ours = answerOf(await h.http.app.inject(request));
      const theirs = answerOf(await reference.inject(request));
      const what = `${request.method} ${request.url} ${JSON.stringify(request.headers ?? {})}`;
      assert.equal(ours.status, theirs.status, what);
      assert.deepEqual(ours.headers, theirs.headers, what);
      assert.ok(ours.body.equals(theirs.body), `${what}: the same bytes`);
    }
  });

  test("the routes are the plugin's own", () => {
    assert.deepEqual(
      [...new Set(referenceRoutes.filter((url) => url.startsWith(DOCS_PREFIX)))].sort(),
      DOCS_ROUTES.map((url) => (url === '/' ? DOCS_PREFIX : `${DOCS_PREFIX}${url}`)).sort(),
    );
  });

  test('a file the plugin does not have, and a path it refuses, are answered by the app in its error shape, under the plugin’s CSP', async () => {
    const csp = (await reference.inject({ method: 'GET', url: '/docs' })).headers['content-security-policy'];
    assert.ok(csp);
    for (const url of ['/docs/static/missing.js', '/docs/static/%00', '/docs/nothing']) {
      const response = await h.http.app.inject({ method: 'GET', url });
      assert.ok(response.statusCode >= 400, `${url}: ${response.statusCode}`);
      assert.equal(typeof response.json().error.code, 'string', `${url}: ${response.body}`);
      if (url.startsWith('/docs/static/')) assert.equal(response.headers['content-security-policy'], csp, url);
    }
  });
});
