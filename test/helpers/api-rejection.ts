import assert from 'node:assert/strict';
import { TokenkeeperApiError } from '../../src/client/index.ts';

/** The typed client's error a call rejected with; fails the test if it resolved or threw anything else. */
export async function rejection(promise: Promise<unknown>): Promise<TokenkeeperApiError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TokenkeeperApiError, `a TokenkeeperApiError, not ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}
