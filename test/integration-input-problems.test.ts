import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenkeeperError } from '../src/errors.ts';
import { validateIntegrationInput } from '../src/integrations/index.ts';

// What `POST /v1/integrations` and `tokenkeeper integrations add` say about a wrong integration:
// every problem in one answer, and for a misspelt name the name it was probably meant to be.

function refusal(body: unknown): TokenkeeperError {
  try {
    validateIntegrationInput(body, { partial: false });
  } catch (error) {
    assert.ok(error instanceof TokenkeeperError, String(error));
    return error;
  }
  assert.fail('expected the input to be refused');
}

test('an unknown provider is one problem among the others, and gives the error its code', () => {
  const error = refusal({ key: 'Google Calendar', provider: 'gogle', client_id: '', scope: 'openid' });
  assert.equal(error.code, 'unknown_provider');
  const problems = (error.details as { problems: string[] }).problems;
  assert.deepEqual(problems.map((problem) => problem.replace(/ \(did you mean.*| known: .*/, '')), [
    'unknown field "scope"',
    'key is required: lowercase letters, digits, "-" and "_", at most 63 characters',
    'unknown provider "gogle"',
    'client_id is required (a non-empty string)',
  ]);
  assert.match(problems[0]!, /\(did you mean "scopes"\?\)$/);
  assert.match(problems[2]!, /\(did you mean "google"\? known: google, microsoft, /);
  assert.equal((error.details as { provider: unknown }).provider, 'gogle');
  assert.equal(error.message, `Invalid integration: ${problems.join('; ')}.`);

  const alone = refusal({ key: 'x', provider: 'myspace', client_id: 'c' });
  assert.equal(alone.code, 'unknown_provider');
  assert.match(alone.message, /^Invalid integration: unknown provider "myspace" \(known: google, /, 'no suggestion when nothing is close');
});

test('a misspelt setting names the setting it was meant to be', () => {
  const error = refusal({ key: 'ms', provider: 'microsoft', client_id: 'c', settings: { tenat: 'common', tokenUrl: 'https://x.example' } });
  assert.equal(error.code, 'invalid_request');
  assert.deepEqual((error.details as { problems: string[] }).problems, [
    'settings: unknown setting "tenat" (did you mean "tenant"?)',
    'settings: unknown setting "tokenUrl"',
  ]);
});
