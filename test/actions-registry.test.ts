import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ActionRegistry,
  actionDisabledBy,
  assertActionEnabled,
  builtInActions,
  createActionRegistry,
  previewAction,
} from '../src/actions/index.ts';
import { reportError } from '../src/cli/report-error.ts';
import { ConfigError, loadConfig } from '../src/config/index.ts';
import { isTokenkeeperError } from '../src/errors.ts';
import { createTokenkeeper } from '../src/service.ts';

const ACTIONS_INDEX = fileURLToPath(new URL('../src/actions/index.ts', import.meta.url));
const NOW = new Date('2026-03-04T05:06:07Z');

const directories: string[] = [];
after(() => {
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});

/** A temporary actions directory with these files. */
function actionsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tk-actions-'));
  directories.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function config(env: Record<string, string>) {
  return loadConfig({ env: { TOKENKEEPER_DATA_DIR: '/tmp/tk-unused', ...env }, dotenvPath: false });
}

async function registryProblems(actions: { dir: string | null; disabled: readonly string[] }): Promise<ConfigError> {
  try {
    await createActionRegistry({ actions });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail('expected the registry to refuse');
}

/** A TypeScript action module, as an operator writes one: types only from Tokenkeeper (erased when Node runs it). */
const TICKETS_MODULE = `
import type { ActionDefinition } from ${JSON.stringify(ACTIONS_INDEX)};

interface TicketInput { subject: string; priority?: 'low' | 'high' }

const createTicket: ActionDefinition = {
  name: 'acme.tickets.create',
  description: 'Opens a ticket in the Acme helpdesk.',
  providers: ['custom'],
  integrations: ['acme'],
  input: {
    type: 'object',
    properties: {
      subject: { type: 'string', minLength: 1, maxLength: 200 },
      priority: { type: 'string', enum: ['low', 'high'] },
    },
    required: ['subject'],
    additionalProperties: false,
  } as never,
  build(input) {
    const ticket = input as TicketInput;
    return { method: 'POST', path: '/v2/tickets', headers: { 'X-Acme-Version': '7' }, body: { subject: ticket.subject, priority: ticket.priority ?? 'low' } };
  },
  read(response) {
    return { ticket_id: (response.body as { id: string }).id };
  },
};

export default createTicket;
`;

const NOTES_MODULE = `
export default [
  {
    name: 'sandbox.notes.list',
    description: 'Lists the notes of the sandbox demo API.',
    providers: ['sandbox'],
    input: { type: 'object', properties: {}, additionalProperties: false },
    build: () => ({ method: 'GET', path: '/api/notes' }),
  },
  {
    name: 'sandbox.notes.archive',
    description: 'Archives a note.',
    providers: ['sandbox'],
    input: { type: 'object', properties: { id: { type: 'string', pattern: '^note_[a-z0-9]+$' } }, required: ['id'], additionalProperties: false },
    build: (input) => ({ method: 'POST', path: '/api/notes/' + encodeURIComponent(input.id) + '/archive' }),
  },
];
`;

describe('TOKENKEEPER_ACTIONS_DIR: operators’ own actions', () => {
  it('loads TypeScript and JavaScript modules (one definition or an array), beside the built-ins', async () => {
    const dir = actionsDir({
      'tickets.ts': TICKETS_MODULE,
      'notes.mjs': NOTES_MODULE,
      'README.md': '# not a module',
      'types.d.ts': 'export type Nothing = never;',
      'helpers/ignored.ts': 'throw new Error("subfolders are not loaded");',
    });
    const loaded = config({ TOKENKEEPER_ACTIONS_DIR: dir });
    assert.deepEqual(loaded.actions, { dir, disabled: [] });
    const registry = await createActionRegistry(loaded);
    assert.deepEqual(
      registry.list().map((action) => action.name),
      [...builtInActions.map((action) => action.name), 'sandbox.notes.list', 'sandbox.notes.archive', 'acme.tickets.create'],
    );

    const acme = { key: 'acme', provider: 'custom' };
    assert.deepEqual(registry.forIntegration(acme).map((action) => action.name), ['acme.tickets.create']);
    assert.deepEqual(registry.forIntegration({ key: 'other', provider: 'custom' }), [], 'narrowed to the integrations it names');
    assert.deepEqual(
      registry.forIntegration({ key: 'sandbox', provider: 'sandbox' }).map((action) => action.name),
      ['sandbox.notes.create', 'sandbox.notes.list', 'sandbox.notes.archive'],
    );

    const tickets = registry.resolve('acme.tickets.create', acme);
    assert.deepEqual(previewAction(tickets, { subject: 'Printer on fire', priority: 'high' }, { apiBaseUrl: 'https://acme.example/api', integration: acme, now: NOW }), {
      action: 'acme.tickets.create',
      method: 'POST',
      url: 'https://acme.example/api/v2/tickets',
      headers: { authorization: 'Bearer [redacted]', 'x-acme-version': '7', 'content-type': 'application/json; charset=utf-8' },
      body: { subject: 'Printer on fire', priority: 'high' },
    });
    assert.throws(
      () => previewAction(tickets, { priority: 'urgent' }, { apiBaseUrl: 'https://acme.example/api', integration: acme, now: NOW }),
      (error) => isTokenkeeperError(error, 'invalid_request') && /subject is required; priority must be one of "low", "high"/.test(error.message),
    );
    const list = registry.toJson(acme);
    assert.deepEqual(list, [
      {
        name: 'acme.tickets.create',
        description: 'Opens a ticket in the Acme helpdesk.',
        providers: ['custom'],
        integrations: ['acme'],
        enabled: true,
        source: 'module',
        input_schema: tickets.input,
      },
    ]);
  });

  it('stops start-up on broken modules, listing every problem with its file', async () => {
    const dir = actionsDir({
      'a-syntax.ts': 'export default { name: "acme.broken", ',
      'b-no-default.mjs': 'export const action = {};',
      'c-fields.ts': `export default {
        name: 'Acme Tickets',
        providers: ['gogle'],
        input: { type: 'object', properties: { a: { type: 'strin' } } },
        buildd() { return { method: 'POST', path: '/x' }; },
      };`,
      'd-duplicate.mjs': `export default {
        name: 'google.gmail.send',
        description: 'Mine.',
        providers: ['google'],
        input: { type: 'object' },
        build: () => ({ method: 'POST', path: '/x' }),
      };`,
      'e-array.mjs': 'export default [{ name: "acme.ok", description: "Fine.", providers: ["custom"], input: { type: "object" }, build: () => ({ method: "GET", path: "/" }) }, 42];',
    });
    const error = await registryProblems({ dir, disabled: [] });
    const lines = error.problems.map((problem) => `${problem.variable}: ${problem.message.replaceAll(dir, '<dir>')}`);
    assert.ok(lines.every((line) => line.startsWith('TOKENKEEPER_ACTIONS_DIR: <dir>/')), lines.join('\n'));
    const expected: RegExp[] = [
      /^TOKENKEEPER_ACTIONS_DIR: <dir>\/a-syntax\.ts cannot be loaded: /,
      /^TOKENKEEPER_ACTIONS_DIR: <dir>\/b-no-default\.mjs has no default export; end it with `export default/,
      /^TOKENKEEPER_ACTIONS_DIR: <dir>\/c-fields\.ts: action "Acme Tickets": unknown field "buildd" \(did you mean build\?\)$/,
      /^TOKENKEEPER_ACTIONS_DIR: <dir>\/c-fields\.ts: action "Acme Tickets": name "Acme Tickets" must be lower-case words joined by dots/,
      /^TOKENKEEPER_ACTIONS_DIR: <dir>\/c-fields\.ts: action "Acme Tickets": description is required/,
      /^TOKENKEEPER_ACTIONS_DIR: <dir>\/c-fields\.ts: action "Acme Tickets": providers: "gogle" is not a provider key \(did you mean "google"\?\)$/,
      /^TOKENKEEPER_ACTIONS_DIR: <dir>\/c-fields\.ts: action "Acme Tickets": input is not a valid schema: properties\/a\/type must be equal to one of the allowed values$/,
      /^TOKENKEEPER_ACTIONS_DIR: <dir>\/c-fields\.ts: action "Acme Tickets": build is required: a function/,
      /^TOKENKEEPER_ACTIONS_DIR: <dir>\/e-array\.mjs: export \[1\]: is not an action definition/,
      /^TOKENKEEPER_ACTIONS_DIR: <dir>\/d-duplicate\.mjs: action "google\.gmail\.send" is already defined by Tokenkeeper \(a built-in action\); give it another name$/,
    ];
    assert.equal(lines.length, expected.length, lines.join('\n'));
    expected.forEach((pattern, index) => assert.match(lines[index]!, pattern));

    // The CLI prints them all and exits 78, as for any configuration problem.
    let stderr = '';
    const exit = reportError(error, { stdout: () => {}, stderr: (text: string) => (stderr += text) } as never);
    assert.equal(exit, 78);
    assert.match(stderr, /10 problems/);
    assert.match(stderr, /✖ TOKENKEEPER_ACTIONS_DIR: .*c-fields\.ts: action "Acme Tickets": providers: "gogle" is not a provider key/);
  });

  it('a broken module stops the service before it opens anything; a good one is in tk.actions', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tk-actions-data-'));
    directories.push(dataDir);
    const broken = actionsDir({ 'broken.mjs': 'export const action = {};' });
    const refused = await createTokenkeeper({ config: loadConfig({ env: { TOKENKEEPER_DATA_DIR: dataDir, TOKENKEEPER_ACTIONS_DIR: broken }, dotenvPath: false }) }).then(
      () => assert.fail('expected start-up to stop'),
      (error: unknown) => error,
    );
    assert.ok(refused instanceof ConfigError, String(refused));
    assert.match(refused.message, /TOKENKEEPER_ACTIONS_DIR/);
    assert.equal(existsSync(join(dataDir, 'tokenkeeper.db')), false, 'no database was created');

    const good = actionsDir({ 'notes.mjs': NOTES_MODULE });
    const tk = await createTokenkeeper({ config: loadConfig({ env: { TOKENKEEPER_DATA_DIR: dataDir, TOKENKEEPER_ACTIONS_DIR: good }, dotenvPath: false }) });
    try {
      assert.ok(tk.actions.get('google.gmail.send'), 'the built-ins');
      assert.ok(tk.actions.get('sandbox.notes.list'), 'and the module');
    } finally {
      await tk.close();
    }
  });

  it('refuses a second module defining a name another module took', async () => {
    const dir = actionsDir({ 'one.mjs': NOTES_MODULE, 'two.mjs': NOTES_MODULE });
    const error = await registryProblems({ dir, disabled: [] });
    assert.deepEqual(
      error.problems.map((problem) => problem.message.replaceAll(dir, '<dir>')),
      [
        '<dir>/two.mjs: action "sandbox.notes.list" is already defined in <dir>/one.mjs; give it another name',
        '<dir>/two.mjs: action "sandbox.notes.archive" is already defined in <dir>/one.mjs; give it another name',
      ],
    );
  });

  it('refuses a directory that does not exist, or is a file, when the configuration is read', () => {
    const dir = actionsDir({ 'file.ts': 'export default 1;' });
    assert.throws(() => config({ TOKENKEEPER_ACTIONS_DIR: join(dir, 'missing') }), (error) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [{ variable: 'TOKENKEEPER_ACTIONS_DIR', message: `${join(dir, 'missing')} does not exist; create it, or unset TOKENKEEPER_ACTIONS_DIR` }]);
      return true;
    });
    assert.throws(() => config({ TOKENKEEPER_ACTIONS_DIR: join(dir, 'file.ts') }), /TOKENKEEPER_ACTIONS_DIR: ".*file\.ts" is not a directory/);
    assert.equal(config({}).actions.dir, null);
  });
});

describe('TOKENKEEPER_ACTIONS_DISABLED and actions_enabled: the kill switch', () => {
  it('reads comma-separated names, refusing what cannot be an action name', () => {
    assert.deepEqual(config({ TOKENKEEPER_ACTIONS_DISABLED: ' google.gmail.send , slack.chat.post_message,google.gmail.send' }).actions.disabled, [
      'google.gmail.send',
      'slack.chat.post_message',
    ]);
    assert.throws(() => config({ TOKENKEEPER_ACTIONS_DISABLED: 'google.gmail.send,,Gmail Send' }), (error) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(
        error.problems.map((problem) => problem.message),
        [
          'has an empty entry; list action names separated by commas, e.g. google.gmail.send,slack.chat.post_message',
          '"Gmail Send" is not an action name (lower-case words joined by dots, e.g. google.gmail.send)',
        ],
      );
      return true;
    });
  });

  it('refuses, at start-up, a name that is no action, suggesting the closest one', async () => {
    const error = await registryProblems({ dir: null, disabled: ['google.gmail.sned', 'slack.chat.post_message', 'acme.nothing.here'] });
    assert.deepEqual(error.problems, [
      { variable: 'TOKENKEEPER_ACTIONS_DISABLED', message: '"google.gmail.sned" is not an action; did you mean google.gmail.send?' },
      {
        variable: 'TOKENKEEPER_ACTIONS_DISABLED',
        message: `"acme.nothing.here" is not an action; the actions are ${builtInActions.map((action) => action.name).join(', ')}`,
      },
    ]);
  });

  it('accepts the names of operators’ own actions', async () => {
    const dir = actionsDir({ 'notes.mjs': NOTES_MODULE });
    const registry = await createActionRegistry(config({ TOKENKEEPER_ACTIONS_DIR: dir, TOKENKEEPER_ACTIONS_DISABLED: 'sandbox.notes.archive' }));
    assert.equal(registry.disabledBy('sandbox.notes.archive', null), 'name');
    assert.equal(registry.disabledBy('sandbox.notes.list', null), null);
  });

  it('answers 501 action_disabled for a name switched off, or for an integration with actions_enabled false', async () => {
    const registry = await createActionRegistry({ actions: { dir: null, disabled: ['google.gmail.send'] } });
    const google = { key: 'google-main', provider: 'google', actionsEnabled: true };
    const slackOff = { key: 'slack-main', provider: 'slack', actionsEnabled: false };
    assert.throws(
      () => registry.assertEnabled('google.gmail.send', google),
      (error) => {
        assert.ok(isTokenkeeperError(error, 'action_disabled'));
        assert.equal(error.status, 501);
        assert.equal(error.message, 'The action google.gmail.send is turned off (TOKENKEEPER_ACTIONS_DISABLED).');
        assert.deepEqual(error.details, { outcome: 'action_disabled', action: 'google.gmail.send', disabled_by: 'name' });
        return true;
      },
    );
    assert.throws(
      () => registry.assertEnabled('slack.chat.post_message', slackOff),
      (error) => isTokenkeeperError(error, 'action_disabled') && error.details?.disabled_by === 'integration' && /slack-main/.test(error.message),
    );
    registry.assertEnabled('slack.chat.post_message', { key: 'slack-main' });
    registry.assertEnabled('github.issues.create', null);
    // The name wins when both switches are off.
    assert.equal(actionDisabledBy('google.gmail.send', new Set(['google.gmail.send']), { actionsEnabled: false }), 'name');
    assert.equal(actionDisabledBy('google.gmail.send', new Set(), { actionsEnabled: false }), 'integration');
    assert.equal(actionDisabledBy('google.gmail.send', new Set(), {}), null);
    assert.throws(() => assertActionEnabled('x.y', new Set(['x.y']), null), (error) => isTokenkeeperError(error, 'action_disabled'));

    assert.deepEqual(registry.toJson().map((action) => [action.name, action.enabled]), [
      ['google.gmail.send', false],
      ['microsoft.mail.send', true],
      ['slack.chat.post_message', true],
      ['github.issues.create', true],
      ['sandbox.notes.create', true],
    ]);
    assert.deepEqual(registry.toJson(slackOff).map((action) => [action.name, action.enabled]), [['slack.chat.post_message', false]]);
  });
});

describe('resolving an action for a connection’s integration', () => {
  const registry = new ActionRegistry(builtInActions.map((definition) => ({ definition, source: 'built-in' as const })));

  it('is 404 action_not_found for an unknown name, with the closest name', () => {
    assert.throws(
      () => registry.resolve('slack.chat.postmessage', { key: 'slack', provider: 'slack' }),
      (error) => {
        assert.ok(isTokenkeeperError(error, 'action_not_found'));
        assert.equal(error.status, 404);
        assert.equal(error.message, 'No action is named "slack.chat.postmessage"; did you mean slack.chat.post_message?');
        return true;
      },
    );
  });

  it('is 404 action_not_found for an action the integration does not offer, naming those it does', () => {
    assert.throws(
      () => registry.resolve('google.gmail.send', { key: 'team-slack', provider: 'slack' }),
      (error) =>
        isTokenkeeperError(error, 'action_not_found') &&
        error.message === 'The integration team-slack (slack) does not offer google.gmail.send; it offers slack.chat.post_message.' &&
        JSON.stringify(error.details) === JSON.stringify({ available: ['slack.chat.post_message'] }),
    );
    assert.equal(registry.resolve('github.issues.create', { key: 'gh-app', provider: 'github-app' }).name, 'github.issues.create');
  });
});
