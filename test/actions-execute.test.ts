/**
 * Actions over HTTP (issue 9, items 5–10): list, preview, execute. Against the sandbox's demo API
 * (a real writable resource with real tokens) and local HTTP servers standing where Gmail, Slack,
 * GitHub and Microsoft Graph stand, which record exactly the requests those APIs document.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startHarness, type Harness } from './helpers/harness.ts';
import { httpServer, type Answer, type Closers, type Received } from './helpers/protocol-servers.ts';
import { testDialects } from './helpers/test-database.ts';

/** A provider stand-in: records requests; answers what the test sets (by default 200 `{}`). */
async function providerServer(closers: Closers) {
  let answer: (request: Received) => Answer = () => ({ status: 200, body: '{}' });
  const server = await httpServer(closers, (request) => answer(request));
  return {
    url: server.url,
    requests: server.requests,
    answer: (next: (request: Received) => Answer) => (answer = next),
  };
}

for (const dialect of testDialects()) {
  describe(`actions over HTTP (${dialect})`, () => {
    let h: Harness;
    const closers: Closers = [];
    let provider: Awaited<ReturnType<typeof providerServer>>;
    let sandboxConnection: string;
    const connections: Record<'google' | 'slack' | 'github' | 'microsoft', string> = { google: '', slack: '', github: '', microsoft: '' };
    const tokens: Record<string, string> = {};

    before(async () => {
      h = await startHarness({ dialect, env: { TOKENKEEPER_PROXY_TIMEOUT_MS: '1500', TOKENKEEPER_PROXY_MAX_RETRIES: '1', TOKENKEEPER_PROXY_MAX_RETRY_WAIT: '1' } });
      provider = await providerServer(closers);
      sandboxConnection = await h.connect('notes-user', 'pat');
      for (const name of Object.keys(connections) as (keyof typeof connections)[]) {
        const created = await h.api('POST', '/v1/integrations', {
          key: name,
          provider: name,
          client_id: `${name}-client`,
          client_secret: `${name}-secret`,
          settings: { apiBaseUrl: provider.url },
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        tokens[name] = `${name}-access-token`;
        const imported = await h.api('POST', '/v1/connections', {
          integration: name,
          owner_id: 'user-1',
          account_id: `${name}-account`,
          account_label: 'pat@example.com',
          access_token: tokens[name],
          refresh_token: `${name}-refresh-token`,
          expires_in: 3600,
        });
        assert.equal(imported.status, 201, JSON.stringify(imported.body));
        connections[name] = imported.body.id;
      }
    });

    beforeEach(() => {
      provider.requests.length = 0;
      provider.answer(() => ({ status: 200, body: '{}' }));
    });

    after(async () => {
      await h?.close();
      for (const close of closers) await close();
    });

    async function notes(): Promise<Array<{ title: string; text: string }>> {
      const listed = await h.api('GET', `/v1/proxy/${sandboxConnection}/notes`);
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      return listed.body.notes;
    }

    async function eventsOf(connectionId: string): Promise<Array<{ type: string; data: Record<string, unknown> }>> {
      await h.tk.events.settled();
      const listed = await h.api('GET', `/v1/connections/${connectionId}/events`);
      return listed.body.data.filter((event: { type: string }) => event.type === 'action.executed');
    }

    test('GET /v1/actions lists every action with its input schema; per integration with enabled', async () => {
      const all = await h.api('GET', '/v1/actions');
      assert.equal(all.status, 200, JSON.stringify(all.body));
      const names = all.body.data.map((action: { name: string }) => action.name);
      for (const name of ['google.gmail.send', 'slack.chat.post_message', 'github.issues.create', 'microsoft.mail.send', 'sandbox.notes.create']) assert.ok(names.includes(name), name);
      const gmail = all.body.data.find((action: { name: string }) => action.name === 'google.gmail.send');
      assert.equal(gmail.input_schema.type, 'object');
      assert.ok(gmail.input_schema.properties.subject, 'the schema itself');
      assert.equal(gmail.enabled, true);
      assert.equal(gmail.source, 'built-in');
      assert.deepEqual(gmail.available_for, [{ integration: 'google', enabled: true }], 'the configured integrations that offer it');
      const notes = all.body.data.find((action: { name: string }) => action.name === 'sandbox.notes.create');
      assert.deepEqual(notes.available_for, [{ integration: 'sandbox', enabled: true }]);

      const forSlack = await h.api('GET', '/v1/actions?integration=slack');
      assert.deepEqual(forSlack.body.data.map((action: { name: string }) => action.name), ['slack.chat.post_message']);
      const unknown = await h.api('GET', '/v1/actions?integration=nope');
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error.code, 'integration_not_found');
    });

    test('the OpenAPI document has the action routes and every action’s input schema', async () => {
      const doc = await h.api('GET', '/openapi.json');
      assert.equal(doc.status, 200);
      assert.ok(doc.body.paths['/v1/actions'].get);
      const execute = doc.body.paths['/v1/connections/{id}/actions/{action}/execute'].post;
      assert.equal(execute.operationId, 'executeAction');
      const refs = execute.requestBody.content['application/json'].schema.anyOf.map((entry: { $ref?: string }) => entry.$ref).filter(Boolean);
      assert.ok(refs.includes('#/components/schemas/ActionInput.google.gmail.send'), JSON.stringify(refs));
      assert.deepEqual(doc.body.components.schemas['ActionInput.slack.chat.post_message'].required, ['channel', 'text']);
      assert.ok(doc.body.paths['/v1/connections/{id}/actions/{action}/preview'].post);
    });

    test('preview answers the exact request with the token redacted, and sends nothing', async () => {
      const before = (await notes()).length;
      const preview = await h.api('POST', `/v1/connections/${sandboxConnection}/actions/sandbox.notes.create/preview`, { title: 'Hello', text: 'World' });
      assert.equal(preview.status, 200, JSON.stringify(preview.body));
      assert.equal(preview.body.method, 'POST');
      assert.equal(preview.body.url, `${h.sandbox.issuer}/api/notes`);
      assert.equal(preview.body.headers.authorization, 'Bearer [redacted]');
      assert.deepEqual(preview.body.body, { title: 'Hello', text: 'World' });
      assert.equal(preview.body.connection_id, sandboxConnection);
      assert.equal((await notes()).length, before, 'nothing was created');
      assert.equal(JSON.stringify(preview.body).includes(h.sandbox.issuer) && !JSON.stringify(preview.body).match(/Bearer (?!\[redacted\])/), true);

      const wrapped = await h.api('POST', `/v1/connections/${sandboxConnection}/actions/sandbox.notes.create/preview`, { input: { title: 'Hello', text: 'World' } });
      assert.deepEqual(wrapped.body.body, { title: 'Hello', text: 'World' }, 'the input may come wrapped');

      const google = await h.api('POST', `/v1/connections/${connections.google}/actions/google.gmail.send/preview`, { to: ['a@example.com'], subject: 'Hi', text: 'x' });
      assert.equal(google.status, 200);
      assert.equal(provider.requests.length, 0, 'nothing reached the provider');
    });

    test('execute creates the note at the sandbox, answers the result, and records an event without body or token', async () => {
      const executed = await h.api('POST', `/v1/connections/${sandboxConnection}/actions/sandbox.notes.create/execute`, { title: 'Groceries', text: 'milk' });
      assert.equal(executed.status, 200, JSON.stringify(executed.body));
      assert.equal(executed.body.outcome, 'ok');
      assert.equal(executed.body.provider_status, 201);
      assert.equal(executed.body.replayed, false);
      assert.equal(executed.body.result.title, 'Groceries');
      assert.ok((await notes()).some((note) => note.title === 'Groceries' && note.text === 'milk'));

      const events = await eventsOf(sandboxConnection);
      const last = events[0]!;
      assert.equal(last.data.action, 'sandbox.notes.create');
      assert.equal(last.data.outcome, 'ok');
      assert.equal(last.data.provider_status, 201);
      assert.equal(typeof last.data.duration_ms, 'number');
      const text = JSON.stringify(last);
      assert.ok(!text.includes('milk') && !text.includes('Groceries'), 'never the input or the body');

      const metrics = await h.api('GET', '/metrics');
      assert.match(String(metrics.body), /tokenkeeper_action_executions_total\{integration="sandbox",action="sandbox.notes.create",outcome="ok"\} [1-9]/);
      assert.match(String(metrics.body), /tokenkeeper_action_duration_seconds_count\{integration="sandbox",action="sandbox.notes.create"\} [1-9]/);
    });

    test('an invalid input is 400 validation_error with every problem, nothing sent, and recorded', async () => {
      const executed = await h.api('POST', `/v1/connections/${connections.slack}/actions/slack.chat.post_message/execute`, { text: 42, extra: true });
      assert.equal(executed.status, 400, JSON.stringify(executed.body));
      assert.equal(executed.body.error.code, 'invalid_request');
      assert.equal(executed.body.error.details.outcome, 'validation_error');
      assert.ok(executed.body.error.details.problems.length >= 2, JSON.stringify(executed.body.error.details));
      assert.equal(provider.requests.length, 0);
      const events = await eventsOf(connections.slack);
      assert.equal(events[0]!.data.outcome, 'validation_error');
    });

    test('a missing, non-object or non-JSON body is a 400 naming the problem, and nothing is sent', async () => {
      const url = `/v1/connections/${connections.slack}/actions/slack.chat.post_message/execute`;
      const empty = await h.api('POST', url);
      assert.equal(empty.status, 400, JSON.stringify(empty.body));
      assert.equal(empty.body.error.code, 'invalid_request');
      assert.equal(empty.body.error.details.outcome, 'validation_error');
      const list = await h.api('POST', url, [{ channel: 'C1', text: 'x' }]);
      assert.equal(list.status, 400, JSON.stringify(list.body));
      assert.equal(list.body.error.details.outcome, 'validation_error');
      const garbage = await h.api('POST', url, '{"channel":', { 'content-type': 'application/json' });
      assert.equal(garbage.status, 400, JSON.stringify(garbage.body));
      assert.equal(garbage.body.error.code, 'invalid_json');
      assert.equal(provider.requests.length, 0);
    });

    test('an unknown action or one the integration does not offer is 404 action_not_found', async () => {
      const unknown = await h.api('POST', `/v1/connections/${connections.slack}/actions/slack.chat.post_mesage/execute`, { channel: 'C1', text: 'x' });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error.code, 'action_not_found');
      assert.equal(unknown.body.error.details.suggestion, 'slack.chat.post_message');
      const other = await h.api('POST', `/v1/connections/${connections.slack}/actions/google.gmail.send/preview`, { subject: 'x', to: 'a@b.c', text: 'x' });
      assert.equal(other.status, 404);
      assert.deepEqual(other.body.error.details.available, ['slack.chat.post_message']);
    });

    test('Gmail: POST users/me/messages/send with the token and a base64url raw RFC 5322 message', async () => {
      provider.answer(() => ({ status: 200, body: JSON.stringify({ id: 'msg-1', threadId: 'thr-1', labelIds: ['SENT'] }) }));
      const executed = await h.api('POST', `/v1/connections/${connections.google}/actions/google.gmail.send/execute`, {
        to: [{ email: 'zoe@example.com', name: 'Zoë' }],
        cc: ['cc@example.com'],
        subject: 'Grüße aus Köln',
        text: 'Hallo',
        html: '<p>Hallo</p>',
      });
      assert.equal(executed.status, 200, JSON.stringify(executed.body));
      assert.deepEqual(executed.body.result, { id: 'msg-1', thread_id: 'thr-1', label_ids: ['SENT'] });
      assert.equal(provider.requests.length, 1);
      const [request] = provider.requests;
      assert.equal(request!.method, 'POST');
      assert.equal(request!.url, '/gmail/v1/users/me/messages/send');
      assert.equal(request!.headers.authorization, `Bearer ${tokens.google}`);
      assert.match(String(request!.headers['content-type']), /^application\/json/);
      const body = JSON.parse(request!.body) as { raw: string };
      assert.deepEqual(Object.keys(body), ['raw']);
      assert.match(body.raw, /^[A-Za-z0-9_-]+$/, 'base64url without padding');
      const message = Buffer.from(body.raw, 'base64url').toString('latin1');
      const [head] = message.split('\r\n\r\n');
      assert.match(head!, /^To: =\?UTF-8\?[BQ]\?.+\?= <zoe@example\.com>$/m, 'a non-ASCII display name as an encoded word');
      assert.match(head!, /^Cc: cc@example\.com$/m);
      assert.match(head!, /^Subject: =\?UTF-8\?[BQ]\?/m);
      assert.match(head!, /^MIME-Version: 1\.0$/m);
      assert.match(head!, /^Content-Type: multipart\/alternative; boundary="?[^"\r\n]+"?$/m);
      assert.match(message, /Content-Type: text\/plain; charset=UTF-8/i);
      assert.match(message, /Content-Type: text\/html; charset=UTF-8/i);
    });

    test('Slack: chat.postMessage as JSON; ok:false is provider_rejected with Slack’s error code', async () => {
      provider.answer(() => ({ status: 200, body: JSON.stringify({ ok: true, channel: 'C123', ts: '1700000000.000100' }) }));
      const ok = await h.api('POST', `/v1/connections/${connections.slack}/actions/slack.chat.post_message/execute`, { channel: 'C123', text: 'Deploy done' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const [request] = provider.requests;
      assert.equal(request!.url, '/chat.postMessage');
      assert.equal(request!.headers.authorization, `Bearer ${tokens.slack}`);
      assert.match(String(request!.headers['content-type']), /^application\/json; charset=utf-8$/i);
      assert.deepEqual(JSON.parse(request!.body), { channel: 'C123', text: 'Deploy done' });

      provider.answer(() => ({ status: 200, body: JSON.stringify({ ok: false, error: 'channel_not_found' }) }));
      const refused = await h.api('POST', `/v1/connections/${connections.slack}/actions/slack.chat.post_message/execute`, { channel: 'C404', text: 'x' });
      assert.equal(refused.status, 502, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'provider_rejected');
      assert.equal(refused.body.error.details.outcome, 'provider_rejected');
      assert.equal(refused.body.error.details.provider_error, 'channel_not_found');
      const events = await eventsOf(connections.slack);
      assert.equal(events[0]!.data.outcome, 'provider_rejected');
      assert.equal(events[0]!.data.provider_error, 'channel_not_found');
    });

    test('GitHub: POST /repos/:owner/:repo/issues with its media type; a 429 is rate_limited, a plain 403 provider_rejected', async () => {
      provider.answer(() => ({ status: 201, body: JSON.stringify({ number: 7, html_url: 'https://github.com/o/r/issues/7' }) }));
      const ok = await h.api('POST', `/v1/connections/${connections.github}/actions/github.issues.create/execute`, { owner: 'octo', repo: 'hello.world', title: 'Bug', labels: ['bug'] });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const [request] = provider.requests;
      assert.equal(request!.url, '/repos/octo/hello.world/issues');
      assert.equal(request!.headers.accept, 'application/vnd.github+json');
      assert.equal(request!.headers['x-github-api-version'], '2022-11-28');
      assert.deepEqual(JSON.parse(request!.body), { title: 'Bug', labels: ['bug'] });

      provider.answer(() => ({ status: 429, body: JSON.stringify({ message: 'API rate limit exceeded' }) }));
      provider.requests.length = 0;
      const limited = await h.api('POST', `/v1/connections/${connections.github}/actions/github.issues.create/execute`, { owner: 'o', repo: 'r', title: 'x' });
      assert.equal(limited.status, 503, JSON.stringify(limited.body));
      assert.equal(limited.body.error.details.outcome, 'rate_limited');
      assert.equal(limited.body.error.details.provider_status, 429);
      assert.equal(provider.requests.length, 1, 'a POST without an Idempotency-Key is not sent again');

      provider.answer(() => ({ status: 403, body: JSON.stringify({ message: 'Must have admin rights to Repository.' }) }));
      const refused = await h.api('POST', `/v1/connections/${connections.github}/actions/github.issues.create/execute`, { owner: 'o', repo: 'r', title: 'x' });
      assert.equal(refused.body.error.details.outcome, 'provider_rejected');
      assert.equal(refused.body.error.details.provider_error, 'Must have admin rights to Repository.');
    });

    test('Microsoft Graph: POST /me/sendMail answers 202 with no body: ok', async () => {
      provider.answer(() => ({ status: 202, body: '' }));
      const ok = await h.api('POST', `/v1/connections/${connections.microsoft}/actions/microsoft.mail.send/execute`, { to: ['a@example.com'], subject: 'Hi', html: '<b>x</b>' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.provider_status, 202);
      const [request] = provider.requests;
      assert.equal(request!.url, '/v1.0/me/sendMail');
      const body = JSON.parse(request!.body);
      assert.equal(body.message.subject, 'Hi');
      assert.deepEqual(body.message.body, { contentType: 'HTML', content: '<b>x</b>' });
      assert.deepEqual(body.message.toRecipients, [{ emailAddress: { address: 'a@example.com' } }]);
    });

    test('a provider 5xx is provider_error and a hang is timeout (504), each recorded', async () => {
      provider.answer(() => ({ status: 500, body: JSON.stringify({ error: { code: 'InternalServerError' } }) }));
      const failed = await h.api('POST', `/v1/connections/${connections.microsoft}/actions/microsoft.mail.send/execute`, { to: ['a@example.com'], subject: 'Hi', text: 'x' });
      assert.equal(failed.body.error.details.outcome, 'provider_error', JSON.stringify(failed.body));
      assert.equal(failed.body.error.details.provider_status, 500);

      provider.answer(() => 'hang');
      const hung = await h.api('POST', `/v1/connections/${connections.microsoft}/actions/microsoft.mail.send/execute`, { to: ['a@example.com'], subject: 'Hi', text: 'x' });
      assert.equal(hung.status, 504, JSON.stringify(hung.body));
      assert.equal(hung.body.error.details.outcome, 'timeout');
      const events = await eventsOf(connections.microsoft);
      assert.deepEqual(events.slice(0, 2).map((event) => event.data.outcome), ['timeout', 'provider_error']);
    });

    test('the kill switch on the integration: actions_enabled false answers 501 and sends nothing', async () => {
      const off = await h.api('PATCH', '/v1/integrations/slack', { actions_enabled: false });
      assert.equal(off.status, 200, JSON.stringify(off.body));
      assert.equal(off.body.actions_enabled, false);
      try {
        const executed = await h.api('POST', `/v1/connections/${connections.slack}/actions/slack.chat.post_message/execute`, { channel: 'C1', text: 'x' });
        assert.equal(executed.status, 501, JSON.stringify(executed.body));
        assert.equal(executed.body.error.code, 'action_disabled');
        assert.equal(executed.body.error.details.outcome, 'action_disabled');
        assert.equal(executed.body.error.details.disabled_by, 'integration');
        const preview = await h.api('POST', `/v1/connections/${connections.slack}/actions/slack.chat.post_message/preview`, { channel: 'C1', text: 'x' });
        assert.equal(preview.status, 501);
        const listed = await h.api('GET', '/v1/actions?integration=slack');
        assert.equal(listed.body.data[0].enabled, false);
        const all = await h.api('GET', '/v1/actions');
        const slackAction = all.body.data.find((action: { name: string }) => action.name === 'slack.chat.post_message');
        assert.equal(slackAction.enabled, true, 'not switched off by name');
        assert.deepEqual(slackAction.available_for, [{ integration: 'slack', enabled: false }]);
        assert.equal(provider.requests.length, 0, 'nothing reached Slack');
        const proxied = await h.api('GET', `/v1/proxy/${connections.slack}/auth.test`);
        assert.equal(proxied.status, 200, 'the proxy is not an action: it still works');
      } finally {
        await h.api('PATCH', '/v1/integrations/slack', { actions_enabled: true });
      }
      const back = await h.api('POST', `/v1/connections/${connections.slack}/actions/slack.chat.post_message/execute`, { channel: 'C1', text: 'x' });
      assert.notEqual(back.status, 501);
    });

    test('a connection that needs its user answers 409 connection_needs_reauth before anything is sent', async () => {
      const imported = await h.api('POST', '/v1/connections', {
        integration: 'github',
        owner_id: 'user-2',
        account_id: 'expired-account',
        access_token: 'old',
        expires_in: 1,
      });
      assert.equal(imported.status, 201);
      h.clock.advance(10_000);
      const executed = await h.api('POST', `/v1/connections/${imported.body.id}/actions/github.issues.create/execute`, { owner: 'o', repo: 'r', title: 'x' });
      assert.equal(executed.status, 409, JSON.stringify(executed.body));
      assert.equal(executed.body.error.details.outcome, 'connection_needs_reauth');
      assert.equal(provider.requests.length, 0);
    });
  });
}
