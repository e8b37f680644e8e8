/**
 * An operator's own action (a TypeScript module in TOKENKEEPER_ACTIONS_DIR) end to end: listed
 * with its schema, previewed, executed through the proxy path against the sandbox's demo API, its
 * `read` shaping the result.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startHarness, type Harness } from './helpers/harness.ts';

/** Written as an operator would: types only from Tokenkeeper (erased), schema as plain JSON Schema. */
const MODULE = `
import type { ActionDefinition } from '../src/index.ts';

const countItems: ActionDefinition = {
  name: 'sandbox.items.count',
  description: 'Counts the items on the first page of the sandbox demo API.',
  providers: ['sandbox'],
  input: {
    type: 'object',
    properties: { page_size: { type: 'integer', minimum: 1, maximum: 100 }, at_least: { type: 'integer', minimum: 0 } },
    required: ['page_size'],
    additionalProperties: false,
  } as never,
  build: (input: { page_size: number }) => ({ method: 'GET', path: '/items?page_size=' + input.page_size }),
  read(response) {
    const items = (response.body as { items: unknown[] }).items;
    if (items.length === 0) throw Object.assign(new Error('The demo API has no items.'), { reason: 'provider_rejected', providerError: 'empty' });
    return { count: items.length };
  },
};

export default countItems;
`;

describe('an operator’s own action module, executed over HTTP', () => {
  let h: Harness;
  let dir: string;
  let connection: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tk-actions-module-'));
    // The module imports Tokenkeeper's types relative to the repository, as a checkout would.
    writeFileSync(join(dir, 'items.ts'), MODULE.replace('../src/index.ts', join(process.cwd(), 'src/index.ts')));
    h = await startHarness({ env: { TOKENKEEPER_ACTIONS_DIR: dir } });
    connection = await h.connect('module-user', 'pat');
  });

  after(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('listed as a module, with the sandbox integration offering it', async () => {
    const listed = await h.api('GET', '/v1/actions?integration=sandbox');
    const action = listed.body.data.find((entry: { name: string }) => entry.name === 'sandbox.items.count');
    assert.ok(action, JSON.stringify(listed.body));
    assert.equal(action.source, 'module');
    assert.deepEqual(action.input_schema.required, ['page_size']);
  });

  test('preview, execute and the read result; bad input listed by the module’s schema', async () => {
    const preview = await h.api('POST', `/v1/connections/${connection}/actions/sandbox.items.count/preview`, { page_size: 5 });
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    assert.equal(preview.body.method, 'GET');
    assert.equal(preview.body.url, `${h.sandbox.issuer}/api/items?page_size=5`);

    const executed = await h.api('POST', `/v1/connections/${connection}/actions/sandbox.items.count/execute`, { page_size: 5 });
    assert.equal(executed.status, 200, JSON.stringify(executed.body));
    assert.deepEqual(executed.body.result, { count: 5 });
    assert.equal(executed.body.provider_status, 200);

    const invalid = await h.api('POST', `/v1/connections/${connection}/actions/sandbox.items.count/execute`, { page_size: 0, extra: 1 });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error.details.outcome, 'validation_error');
    assert.equal(invalid.body.error.details.problems.length, 2, JSON.stringify(invalid.body.error.details.problems));
  });
});
