/**
 * The OpenAPI document is generated from the route schemas (`@fastify/swagger`), so it cannot
 * drift from what the routes validate and serialize. Here: it is valid OpenAPI 3.1 for a real
 * validator, and complete enough for a client generator (operation ids, descriptions, the
 * error answers, security, licence). `/docs` browses it without any network.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { errorRegistry } from '../src/errors.ts';
import { PUBLIC_URL, startHarness, type Harness } from './helpers/harness.ts';

type Operation = {
  operationId?: string;
  summary?: string;
  description?: string;
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { description?: string; content?: Record<string, { schema: { $ref?: string } }> }>;
};

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

describe('the OpenAPI document', () => {
  let h: Harness;
  let document: any;
  before(async () => {
    h = await startHarness();
    const response = await h.http.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    document = response.json();
  });
  after(async () => h.close());

  const operations = (): [string, string, Operation][] =>
    Object.entries(document.paths as Record<string, Record<string, Operation>>).flatMap(([path, item]) =>
      Object.entries(item).filter(([method]) => METHODS.includes(method)).map(([method, operation]) => [path, method, operation] as [string, string, Operation]),
    );

  test('is valid OpenAPI 3.1 for a real validator', async () => {
    assert.equal(document.openapi, '3.1.0');
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    assert.deepEqual(result.errors, undefined, JSON.stringify(result.errors, null, 2)?.slice(0, 3000));
    assert.equal(result.valid, true);
    assert.equal(validator.version, '3.1');
  });

  test('says what it is: title, version, licence (Apache-2.0, as package.json), server', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { license: string; version: string };
    assert.equal(document.info.title, 'Tokenkeeper');
    assert.equal(document.info.version, pkg.version);
    assert.equal(document.info.license.identifier, pkg.license);
    assert.equal(document.info.license.name, pkg.license);
    assert.deepEqual(document.servers, [{ url: PUBLIC_URL }]);
  });

  test('every operation has a unique operationId, a summary and a description', async () => {
    const ids = new Set<string>();
    assert.ok(operations().length >= 20, `only ${operations().length} operations`);
    for (const [path, method, operation] of operations()) {
      const what = `${method.toUpperCase()} ${path}`;
      assert.match(operation.operationId ?? '', /^[a-z][A-Za-z]+$/, `${what}: operationId`);
      assert.ok(!ids.has(operation.operationId!), `${what}: duplicate operationId ${operation.operationId}`);
      ids.add(operation.operationId!);
      assert.ok((operation.summary ?? '').length > 5, `${what}: summary`);
      assert.ok((operation.description ?? '').length > 10, `${what}: description`);
    }
    for (const route of ['/v1/connections/{id}/token', '/v1/integrations/{key}/token', '/v1/connections', '/v1/api-keys/{id}', '/v1/cron/{job}', '/health']) {
      assert.ok(document.paths[route], route);
    }
  });

  test('every operation documents its error answers with the one error schema', async () => {
    assert.deepEqual(document.components.schemas.Error.properties.error.properties.code.enum.sort(), Object.keys(errorRegistry).sort());
    for (const [path, method, operation] of operations()) {
      const what = `${method.toUpperCase()} ${path}`;
      for (const [status, response] of Object.entries(operation.responses)) {
        assert.ok((response.description ?? '').length > 0, `${what} ${status}: description`);
      }
      if (path === '/metrics' || path === '/health' || path === '/ready') continue;
      const errors = Object.entries(operation.responses).filter(([status]) => /^[45]\d\d$/.test(status));
      assert.ok(errors.some(([status]) => status.startsWith('4')), `${what}: no 4xx answer`);
      assert.ok(errors.some(([status]) => status.startsWith('5')), `${what}: no 5xx answer`);
      for (const [status, response] of errors) {
        assert.equal(response.content?.['application/json']?.schema.$ref, '#/components/schemas/Error', `${what} ${status}: the error schema`);
      }
    }
  });

  test('security: an API key everywhere under /v1, the cron secret for /v1/cron, the optional metrics token, nothing for health', async () => {
    assert.equal(document.components.securitySchemes.apiKey.type, 'http');
    assert.equal(document.components.securitySchemes.apiKey.scheme, 'bearer');
    assert.equal(document.components.securitySchemes.cronSecret.scheme, 'bearer');
    assert.deepEqual(document.security, [{ apiKey: [] }]);
    for (const [path, method, operation] of operations()) {
      const expected = path.startsWith('/v1/cron/') ? [{ cronSecret: [] }] : path.startsWith('/v1/') ? undefined : path === '/metrics' ? [{}, { metricsToken: [] }] : [];
      assert.deepEqual(operation.security, expected, `${method.toUpperCase()} ${path}`);
      if (path.startsWith('/v1/')) assert.ok(operation.responses['401'], `${method.toUpperCase()} ${path}: 401 documented`);
    }
  });

  test('request bodies are documented, the import included, and refuse unknown fields', async () => {
    for (const [path, method] of [['/v1/connections', 'post'], ['/v1/integrations', 'post'], ['/v1/integrations/{key}', 'patch'], ['/v1/connect/sessions', 'post'], ['/v1/api-keys', 'post']]) {
      const schema = (document.paths[path!][method!] as Operation).requestBody?.content['application/json']?.schema as { additionalProperties?: boolean; properties?: object };
      assert.ok(schema, `${method} ${path}: request body`);
      assert.equal(schema.additionalProperties, false, `${method} ${path}: unknown fields refused`);
    }
    const importBody = document.paths['/v1/connections'].post.requestBody.content['application/json'].schema;
    assert.ok(importBody.properties.access_token && importBody.properties.refresh_token && importBody.properties.metadata);
    const listQuery = (document.paths['/v1/connections'].get as { parameters: { name: string; in: string }[] }).parameters;
    assert.deepEqual(listQuery.filter((p) => p.in === 'query').map((p) => p.name).sort(), ['after', 'integration', 'kind', 'limit', 'owner_id', 'status']);
  });

  test('/docs is a browsable reference served from this process (no CDN)', async () => {
    const page = await h.http.app.inject({ method: 'GET', url: '/docs' });
    const html = page.statusCode === 302 ? await h.http.app.inject({ method: 'GET', url: String(page.headers.location) }) : page;
    assert.equal(html.statusCode, 200);
    assert.match(String(html.headers['content-type']), /^text\/html/);
    assert.match(html.body, /swagger-ui/);
    const sources = [...html.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    assert.ok(sources.length > 0);
    for (const source of sources) assert.doesNotMatch(source, /^(https?:)?\/\//, `${source} is fetched from the network`);
    const bundle = await h.http.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    assert.equal(bundle.statusCode, 200);
    const spec = await h.http.app.inject({ method: 'GET', url: '/docs/json' });
    assert.equal(spec.statusCode, 200);
    assert.equal(spec.json().openapi, '3.1.0');
  });
});
