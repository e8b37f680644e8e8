import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  builtInActions,
  prepareAction,
  previewAction,
  readActionResponse,
  type ActionDefinition,
  type ActionResponse,
  type PreparedActionRequest,
} from '../src/actions/index.ts';
import { isTokenkeeperError } from '../src/errors.ts';

const NOW = new Date('2026-03-04T05:06:07Z');

function action(name: string): ActionDefinition {
  const found = builtInActions.find((candidate) => candidate.name === name);
  assert.ok(found, name);
  return found;
}

function options(apiBaseUrl: string, provider: string) {
  return { apiBaseUrl, integration: { key: provider, provider }, now: NOW, randomId: () => 'fixed' };
}

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    assert.ok(isTokenkeeperError(error, 'invalid_request'), String(error));
    assert.equal(error.details?.outcome, 'validation_error');
    return error.details?.problems as string[];
  }
  assert.fail('expected invalid_request');
}

describe('built-in actions preview exactly the request their providers document', () => {
  it('lists the five built-ins of the issue, each for its provider', () => {
    assert.deepEqual(
      builtInActions.map((definition) => [definition.name, [...definition.providers]]),
      [
        ['google.gmail.send', ['google']],
        ['microsoft.mail.send', ['microsoft']],
        ['slack.chat.post_message', ['slack']],
        ['github.issues.create', ['github', 'github-app']],
        ['sandbox.notes.create', ['sandbox']],
      ],
    );
  });

  it('slack.chat.post_message: POST /chat.postMessage with JSON {channel, text, blocks?} under https://slack.com/api', () => {
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*Deploy* done 👋' } }];
    assert.deepEqual(previewAction(action('slack.chat.post_message'), { channel: 'C0123456789', text: 'Deploy done 👋', blocks }, options('https://slack.com/api', 'slack')), {
      action: 'slack.chat.post_message',
      method: 'POST',
      url: 'https://slack.com/api/chat.postMessage',
      headers: { authorization: 'Bearer [redacted]', 'content-type': 'application/json; charset=utf-8' },
      body: { channel: 'C0123456789', text: 'Deploy done 👋', blocks },
    });
    assert.deepEqual(
      previewAction(action('slack.chat.post_message'), { channel: '#general', text: 'reply', thread_ts: '1700000000.123456' }, options('https://slack.com/api/', 'slack')).body,
      { channel: '#general', text: 'reply', thread_ts: '1700000000.123456' },
    );
    assert.deepEqual(problemsOf(() => previewAction(action('slack.chat.post_message'), { channel: 'has space', text: '', thread_ts: 'yesterday' }, options('https://slack.com/api', 'slack'))), [
      'channel must be a channel id (C0123456789) or name, without spaces',
      'text must not be empty',
      "thread_ts must be a parent message's ts, such as 1234567890.123456",
    ]);
  });

  it('github.issues.create: POST /repos/{owner}/{repo}/issues with the Accept and API-version headers GitHub asks for', () => {
    const input = { owner: 'octo-org', repo: 'hello.world', title: 'Found a bug', body: 'It breaks 👋', labels: ['bug'], assignees: ['octocat'], milestone: 3 };
    assert.deepEqual(previewAction(action('github.issues.create'), input, options('https://api.github.com', 'github')), {
      action: 'github.issues.create',
      method: 'POST',
      url: 'https://api.github.com/repos/octo-org/hello.world/issues',
      headers: {
        authorization: 'Bearer [redacted]',
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28',
        'content-type': 'application/json; charset=utf-8',
      },
      body: { title: 'Found a bug', body: 'It breaks 👋', labels: ['bug'], assignees: ['octocat'], milestone: 3 },
    });
    assert.deepEqual(previewAction(action('github.issues.create'), { owner: 'o', repo: 'r', title: 't' }, options('https://api.github.com', 'github-app')).body, { title: 't' });
    // Path parameters cannot walk out of /repos/{owner}/{repo}.
    assert.deepEqual(problemsOf(() => previewAction(action('github.issues.create'), { owner: '../admin', repo: '..', title: '', milestone: 0 }, options('https://api.github.com', 'github'))), [
      'owner must be a GitHub user or organization name',
      'repo must be a repository name (letters, digits, . _ -)',
      'title must not be empty',
      'milestone must be at least 1',
    ]);
  });

  it('microsoft.mail.send: POST /v1.0/me/sendMail with the Graph message (HTML preferred), saveToSentItems only when false', () => {
    const input = {
      to: [{ email: 'anna@example.com', name: 'Anna Müller' }, 'bob@example.com'],
      cc: ['carol@example.com'],
      bcc: ['dave@example.com'],
      reply_to: ['support@example.com'],
      subject: 'Grüße 👋',
      text: 'plain',
      html: '<p>Grüße 👋</p>',
      save_to_sent_items: false,
    };
    assert.deepEqual(previewAction(action('microsoft.mail.send'), input, options('https://graph.microsoft.com', 'microsoft')), {
      action: 'microsoft.mail.send',
      method: 'POST',
      url: 'https://graph.microsoft.com/v1.0/me/sendMail',
      headers: { authorization: 'Bearer [redacted]', 'content-type': 'application/json; charset=utf-8' },
      body: {
        message: {
          subject: 'Grüße 👋',
          body: { contentType: 'HTML', content: '<p>Grüße 👋</p>' },
          toRecipients: [{ emailAddress: { address: 'anna@example.com', name: 'Anna Müller' } }, { emailAddress: { address: 'bob@example.com' } }],
          ccRecipients: [{ emailAddress: { address: 'carol@example.com' } }],
          bccRecipients: [{ emailAddress: { address: 'dave@example.com' } }],
          replyTo: [{ emailAddress: { address: 'support@example.com' } }],
        },
        saveToSentItems: false,
      },
    });
    assert.deepEqual(previewAction(action('microsoft.mail.send'), { to: ['bob@example.com'], subject: 'x', text: 'plain' }, options('https://graph.microsoft.com', 'microsoft')).body, {
      message: { subject: 'x', body: { contentType: 'Text', content: 'plain' }, toRecipients: [{ emailAddress: { address: 'bob@example.com' } }] },
    });
    assert.deepEqual(problemsOf(() => previewAction(action('microsoft.mail.send'), { to: ['bob@@example.com'], subject: 'x', save_to_sent_items: 'no' }, options('https://graph.microsoft.com', 'microsoft'))), [
      'to[0] must be an e-mail address (alice@example.com) or {"email": "alice@example.com", "name": "Alice"}',
      'save_to_sent_items must be true or false',
      'text or html is required',
    ]);
  });

  it('sandbox.notes.create: POST /notes under the sandbox API base URL (<issuer>/api) with {title, text}', () => {
    assert.deepEqual(previewAction(action('sandbox.notes.create'), { title: 'Groceries', text: 'Milk, eggs' }, options('http://127.0.0.1:3171/api', 'sandbox')), {
      action: 'sandbox.notes.create',
      method: 'POST',
      url: 'http://127.0.0.1:3171/api/notes',
      headers: { authorization: 'Bearer [redacted]', 'content-type': 'application/json; charset=utf-8' },
      body: { title: 'Groceries', text: 'Milk, eggs' },
    });
    assert.deepEqual(problemsOf(() => previewAction(action('sandbox.notes.create'), { title: 7 }, options('http://127.0.0.1:3171', 'sandbox'))), [
      'text is required',
      'title must be a string',
    ]);
  });

  it('never shows or carries a token: the preview says Bearer [redacted], the prepared request has no Authorization', () => {
    for (const definition of builtInActions) {
      const input = sampleInputs[definition.name]!;
      const prepared = prepareAction(definition, input, options('https://api.example.com', definition.providers[0]!));
      assert.equal(prepared.headers.authorization, undefined, definition.name);
      assert.equal(previewAction(definition, input, options('https://api.example.com', definition.providers[0]!)).headers.authorization, 'Bearer [redacted]');
    }
  });
});

const sampleInputs: Record<string, Record<string, unknown>> = {
  'google.gmail.send': { to: [{ email: 'anna@example.com', name: 'Anna Müller' }], subject: 'Grüße 👋', text: 'Hallo', html: '<p>Hallo</p>' },
  'microsoft.mail.send': { to: ['anna@example.com'], subject: 'Grüße 👋', html: '<p>Hallo</p>' },
  'slack.chat.post_message': { channel: 'C0123456789', text: 'Hello 👋' },
  'github.issues.create': { owner: 'octo-org', repo: 'hello-world', title: 'Found a bug', labels: ['bug'] },
  'sandbox.notes.create': { title: 'Note', text: 'Text 👋' },
};

/**
 * A local server that answers as each provider documents (recorded shapes), and records what it
 * got: the prepared request, sent with fetch plus the token the proxy would add, arrives exactly.
 */
describe('prepared requests sent to local servers that answer as the providers do', () => {
  let server: Server;
  let base: string;
  const received: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];
  let answer: (request: { url: string; body: string }) => { status: number; headers?: Record<string, string>; body?: string } = () => ({ status: 200 });

  before(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        received.push({ method: request.method!, url: request.url!, headers: request.headers, body });
        const reply = answer({ url: request.url!, body });
        response.writeHead(reply.status, reply.headers ?? {});
        response.end(reply.body ?? '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** Sends as the proxy path would (token added), and reads the answer as `read` gets it. */
  async function send(prepared: PreparedActionRequest): Promise<ActionResponse> {
    const response = await fetch(prepared.url, {
      method: prepared.method,
      headers: { ...prepared.headers, authorization: 'Bearer test-token' },
      ...(prepared.body !== null ? { body: prepared.body } : {}),
    });
    const text = await response.text();
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    let body: unknown = text === '' ? null : text;
    if ((headers['content-type'] ?? '').includes('json') && text !== '') body = JSON.parse(text);
    return { status: response.status, headers, body };
  }

  /** Prepares and sends; resolves once the server has answered (and recorded the request). */
  function sendAction(name: string, input: Record<string, unknown>, path = ''): Promise<ActionResponse> {
    const definition = action(name);
    return send(prepareAction(definition, input, options(`${base}${path}`, definition.providers[0]!)));
  }

  it('Gmail gets POST /gmail/v1/users/me/messages/send with JSON {raw}, and its answer reads as the sent message', async () => {
    answer = () => ({ status: 200, headers: { 'content-type': 'application/json; charset=UTF-8' }, body: JSON.stringify({ id: '18c1', threadId: '18c1', labelIds: ['SENT'] }) });
    const response = await sendAction('google.gmail.send', sampleInputs['google.gmail.send']!);
    const result = readActionResponse(action('google.gmail.send'), response, NOW.getTime());
    const got = received.at(-1)!;
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/gmail/v1/users/me/messages/send');
    assert.equal(got.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(got.headers.authorization, 'Bearer test-token');
    const body = JSON.parse(got.body) as { raw: string };
    assert.deepEqual(Object.keys(body), ['raw']);
    assert.match(Buffer.from(body.raw, 'base64url').toString('latin1'), /^To: =\?UTF-8\?B\?/);
    assert.deepEqual(result, { outcome: 'ok', status: 200, result: { id: '18c1', thread_id: '18c1', label_ids: ['SENT'] } });
  });

  it('Slack answers 200 with ok:false: provider_rejected with Slack’s error code, never a success', async () => {
    answer = ({ body }) =>
      JSON.parse(body).channel === 'C0123456789'
        ? { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ ok: true, channel: 'C0123456789', ts: '1700000000.000100', message: { text: 'Hello 👋' } }) }
        : { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ ok: false, error: 'channel_not_found' }) };
    const slack = action('slack.chat.post_message');
    const ok = await sendAction('slack.chat.post_message', { channel: 'C0123456789', text: 'Hello 👋' });
    assert.equal(received.at(-1)!.url, '/chat.postMessage');
    assert.deepEqual(JSON.parse(received.at(-1)!.body), { channel: 'C0123456789', text: 'Hello 👋' });
    assert.deepEqual(readActionResponse(slack, ok, NOW.getTime()), { outcome: 'ok', status: 200, result: { channel: 'C0123456789', ts: '1700000000.000100' } });

    const refused = await sendAction('slack.chat.post_message', { channel: 'C000MISSING', text: 'Hello' });
    assert.deepEqual(readActionResponse(slack, refused, NOW.getTime()), {
      outcome: 'provider_rejected',
      status: 200,
      message: 'Slack refused the message (channel_not_found).',
      providerError: 'channel_not_found',
      retryAfterMs: null,
    });

    answer = () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ok: false, error: 'ratelimited' }) });
    const limited = await sendAction('slack.chat.post_message', { channel: 'C1', text: 'x' });
    assert.equal(readActionResponse(slack, limited, NOW.getTime()).outcome, 'rate_limited');

    answer = () => ({ status: 429, headers: { 'retry-after': '30', 'content-type': 'application/json' }, body: JSON.stringify({ ok: false, error: 'ratelimited' }) });
    const throttled = readActionResponse(slack, await sendAction('slack.chat.post_message', { channel: 'C1', text: 'x' }), NOW.getTime());
    assert.equal(throttled.outcome, 'rate_limited');
    assert.equal((throttled as { retryAfterMs?: number | null }).retryAfterMs, 30_000);
  });

  it('GitHub gets the issue at /repos/{owner}/{repo}/issues and answers 201; its 410 is provider_rejected, its 403 with X-RateLimit-Remaining: 0 rate_limited', async () => {
    answer = () => ({
      status: 201,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ id: 1, number: 1347, url: 'https://api.github.com/repos/octo-org/hello-world/issues/1347', html_url: 'https://github.com/octo-org/hello-world/issues/1347', state: 'open', title: 'Found a bug', user: { login: 'octocat' } }),
    });
    const github = action('github.issues.create');
    const created = await sendAction('github.issues.create', sampleInputs['github.issues.create']!);
    const got = received.at(-1)!;
    assert.equal(got.url, '/repos/octo-org/hello-world/issues');
    assert.equal(got.headers.accept, 'application/vnd.github+json');
    assert.equal(got.headers['x-github-api-version'], '2022-11-28');
    assert.deepEqual(JSON.parse(got.body), { title: 'Found a bug', labels: ['bug'] });
    assert.deepEqual(readActionResponse(github, created, NOW.getTime()), {
      outcome: 'ok',
      status: 201,
      result: { id: 1, number: 1347, url: 'https://api.github.com/repos/octo-org/hello-world/issues/1347', html_url: 'https://github.com/octo-org/hello-world/issues/1347', state: 'open', title: 'Found a bug' },
    });

    answer = () => ({ status: 410, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'Issues are disabled for this repo', documentation_url: 'https://docs.github.com/rest/issues/issues#create-an-issue' }) });
    const gone = readActionResponse(github, await sendAction('github.issues.create', sampleInputs['github.issues.create']!), NOW.getTime());
    assert.equal(gone.outcome, 'provider_rejected');
    assert.equal((gone as { providerError?: string | null }).providerError, 'Issues are disabled for this repo');

    answer = () => ({ status: 403, headers: { 'content-type': 'application/json', 'x-ratelimit-remaining': '0' }, body: JSON.stringify({ message: 'API rate limit exceeded' }) });
    assert.equal(readActionResponse(github, await sendAction('github.issues.create', sampleInputs['github.issues.create']!), NOW.getTime()).outcome, 'rate_limited');
  });

  it('Microsoft Graph gets /v1.0/me/sendMail and answers 202 with no body', async () => {
    answer = () => ({ status: 202 });
    const sent = await sendAction('microsoft.mail.send', sampleInputs['microsoft.mail.send']!);
    const got = received.at(-1)!;
    assert.equal(got.url, '/v1.0/me/sendMail');
    assert.deepEqual(JSON.parse(got.body), {
      message: { subject: 'Grüße 👋', body: { contentType: 'HTML', content: '<p>Hallo</p>' }, toRecipients: [{ emailAddress: { address: 'anna@example.com' } }] },
    });
    assert.deepEqual(readActionResponse(action('microsoft.mail.send'), sent, NOW.getTime()), { outcome: 'ok', status: 202, result: { accepted: true } });

    answer = () => ({ status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: { code: 'ErrorInvalidRecipients', message: 'At least one recipient is not valid.' } }) });
    const refused = readActionResponse(action('microsoft.mail.send'), await sendAction('microsoft.mail.send', sampleInputs['microsoft.mail.send']!), NOW.getTime());
    assert.equal(refused.outcome, 'provider_rejected');
    assert.equal((refused as { providerError?: string | null }).providerError, 'ErrorInvalidRecipients');

    answer = () => ({ status: 503, headers: { 'retry-after': '5' } });
    const down = readActionResponse(action('microsoft.mail.send'), await sendAction('microsoft.mail.send', sampleInputs['microsoft.mail.send']!), NOW.getTime());
    assert.deepEqual(down, { outcome: 'provider_error', status: 503, message: 'The provider answered 503.', providerError: null, retryAfterMs: 5_000 });
  });

  it('the sandbox demo API gets POST /api/notes: its base URL has a path of its own', async () => {
    answer = ({ body }) => ({ status: 201, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'note_1', ...JSON.parse(body), created_at: '2026-03-04T05:06:07.000Z' }) });
    const created = await sendAction('sandbox.notes.create', sampleInputs['sandbox.notes.create']!, '/api/');
    assert.equal(received.at(-1)!.url, '/api/notes');
    assert.deepEqual(readActionResponse(action('sandbox.notes.create'), created, NOW.getTime()), {
      outcome: 'ok',
      status: 201,
      result: { id: 'note_1', title: 'Note', text: 'Text 👋', created_at: '2026-03-04T05:06:07.000Z' },
    });
  });
});

describe('the built-in actions’ input schemas', () => {
  it('each compiles under the strict validator (start-up leaves them to first use)', async () => {
    const { checkBuiltIn } = await import('../src/actions/action-registry.ts');
    const { builtInActions } = await import('../src/actions/index.ts');
    for (const action of builtInActions) assert.doesNotThrow(() => checkBuiltIn(action), action.name);
    const broken = { ...builtInActions[0]!, name: 'broken.example', input: { type: 'object', properties: { x: { type: 'strng' } } } as never };
    assert.throws(() => checkBuiltIn(broken), /The built-in action broken\.example has an input schema that does not compile/);
  });
});
