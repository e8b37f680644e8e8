import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import { startHarness, type Harness } from './helpers/harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => h.close());

test('storage busy during the callback: a 503 page and a warning in the logs, not an error line', async () => {
  // Without redirect_to the callback answers with its own page (with it, a redirect carries the code).
  const callback = await h.authorize('busy-owner');
  const blocker = new DatabaseSync(`${h.dataDir}/tokenkeeper.db`);
  blocker.exec('BEGIN IMMEDIATE');
  try {
    const before = h.logger.lines.length;
    const response = await h.http.app.inject({ method: 'GET', url: callback });
    assert.equal(response.statusCode, 503);
    assert.match(response.body, /storage_unavailable/);
    const lines = h.logger.lines.slice(before).map((line) => JSON.parse(line) as { level: string; msg: string });
    assert.ok(lines.some((line) => line.msg === 'callback failed' && line.level === 'warn'), JSON.stringify(lines.map((line) => [line.level, line.msg])));
    assert.deepEqual(lines.filter((line) => line.level === 'error').map((line) => line.msg), [], 'no error-level line for a transient storage failure');
  } finally {
    blocker.exec('ROLLBACK');
    blocker.close();
  }
});
