import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { errorRegistry } from '../src/errors.ts';

test('docs/errors.md lists exactly the registry, with the same statuses', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map<string, number>();
  for (const match of doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)) rows.set(match[1]!, Number(match[2]));
  const registry = new Map(Object.entries(errorRegistry).map(([code, entry]) => [code, entry.status as number]));
  assert.deepEqual([...rows.keys()].sort(), [...registry.keys()].sort(), 'codes differ between docs/errors.md and src/errors.ts');
  for (const [code, status] of registry) assert.equal(rows.get(code), status, `status of ${code}`);
});
