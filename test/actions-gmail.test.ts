import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtInActions, previewAction, type ActionDefinition } from '../src/actions/index.ts';
import { isTokenkeeperError } from '../src/errors.ts';

/**
 * `google.gmail.send` builds the message itself, so these tests read it back the way a mail
 * program would, with a decoder written here from the RFCs (2045 quoted-printable and base64,
 * 2046 multipart, 2047 encoded-words, 5322 folding), independent of the code under test.
 */

const gmail = builtInActions.find((action) => action.name === 'google.gmail.send') as ActionDefinition;
const NOW = new Date('2026-03-04T05:06:07Z');

function preview(input: Record<string, unknown>, account: { id: string | null; label: string | null } | null = null) {
  let next = 0;
  return previewAction(gmail, input, {
    apiBaseUrl: 'https://www.googleapis.com',
    integration: { key: 'google', provider: 'google' },
    account,
    now: NOW,
    randomId: () => `id${(next += 1)}`,
  });
}

/** The raw message of a preview, as the bytes Gmail gets. */
function rawMessage(input: Record<string, unknown>): string {
  const body = preview(input).body as { raw: string };
  assert.deepEqual(Object.keys(body), ['raw']);
  assert.match(body.raw, /^[A-Za-z0-9_-]+$/, 'base64url: no +, /, = or line breaks');
  return Buffer.from(body.raw, 'base64url').toString('latin1');
}

// --- an independent reader -------------------------------------------------------------------

interface Entity {
  headers: Map<string, string>;
  rawHeaders: string;
  body: string;
}

function parseEntity(text: string): Entity {
  const end = text.indexOf('\r\n\r\n');
  assert.ok(end >= 0, 'headers end with an empty line');
  const rawHeaders = text.slice(0, end);
  const headers = new Map<string, string>();
  // RFC 5322 §2.2.3: unfolding removes each CRLF that is followed by whitespace.
  for (const line of rawHeaders.replace(/\r\n(?=[ \t])/g, '').split('\r\n')) {
    const colon = line.indexOf(':');
    assert.ok(colon > 0, `a header line: ${line}`);
    const name = line.slice(0, colon).toLowerCase();
    assert.ok(!headers.has(name), `${name} appears once`);
    headers.set(name, line.slice(colon + 1).trim());
  }
  return { headers, rawHeaders, body: text.slice(end + 4) };
}

/** RFC 2047 §6: decodes encoded-words, dropping whitespace between adjacent ones (§6.2). */
function decodeHeader(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?[^?]+\?[BbQq]\?[^?]*\?=)/g, '$1')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_match, charset: string, encoding: string, text: string) => {
      assert.equal(charset.toUpperCase(), 'UTF-8');
      const bytes = encoding.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : qpBytes(text.replaceAll('_', ' '));
      return bytes.toString('utf8');
    });
}

function qpBytes(text: string): Buffer {
  const bytes: number[] = [];
  for (let index = 0; index < text.length; index += 1) {
    if (text[index] === '=') {
      assert.match(text.slice(index + 1, index + 3), /^[0-9A-F]{2}$/, 'an =XX escape with upper-case hex');
      bytes.push(Number.parseInt(text.slice(index + 1, index + 3), 16));
      index += 2;
    } else {
      bytes.push(text.charCodeAt(index));
    }
  }
  return Buffer.from(bytes);
}

function decodeBody(entity: Entity): string {
  const encoding = entity.headers.get('content-transfer-encoding');
  if (encoding === 'base64') {
    for (const line of entity.body.split('\r\n')) assert.ok(line.length <= 76, 'base64 lines of at most 76');
    return Buffer.from(entity.body.replaceAll('\r\n', ''), 'base64').toString('utf8');
  }
  assert.equal(encoding, 'quoted-printable');
  for (const line of entity.body.split('\r\n')) {
    assert.ok(line.length <= 76, `quoted-printable lines of at most 76: ${line}`);
    assert.ok(!/[ \t]$/.test(line), 'no whitespace at the end of an encoded line');
    assert.match(line, /^[\x20-\x7e\t]*$/, 'only printable ASCII');
    assert.match(line, /^(?:[^=]|=[0-9A-F]{2})*=?$/, `no =XX cut by a soft line break: ${line}`);
  }
  return qpBytes(entity.body.replace(/=\r\n/g, '')).toString('utf8');
}

function multipartParts(entity: Entity): Entity[] {
  const boundary = /boundary="([^"]+)"/.exec(entity.headers.get('content-type') ?? '')?.[1];
  assert.ok(boundary, 'a quoted boundary parameter');
  assert.ok(boundary.length <= 70, 'RFC 2046: a boundary of at most 70 characters');
  const delimiter = `\r\n--${boundary}`;
  const text = `\r\n${entity.body}`;
  const pieces = text.split(delimiter);
  assert.equal(pieces[0], '', 'no preamble');
  const closing = pieces.at(-1)!;
  assert.equal(closing, '--\r\n', 'the close delimiter ends the body');
  return pieces.slice(1, -1).map((piece) => {
    assert.ok(piece.startsWith('\r\n'), 'a delimiter line ends with CRLF');
    return parseEntity(piece.slice(2));
  });
}

function assertWellFormed(raw: string): void {
  assert.doesNotMatch(raw, /\r(?!\n)|(?<!\r)\n/, 'CRLF line breaks only (RFC 5322 §2.3)');
  assert.match(raw, /^[\x00-\x7f]*$/, 'only ASCII: everything else is encoded');
  for (const line of raw.split('\r\n')) {
    assert.ok(line.length <= 998, 'RFC 5322 §2.1.1: at most 998 characters a line');
    assert.ok(line.length <= 78, `lines kept to 78 (here 76): ${line}`);
  }
  const { rawHeaders } = parseEntity(raw);
  for (const line of rawHeaders.split('\r\n')) {
    if (line.includes('=?')) assert.ok(line.length <= 76, `RFC 2047 §2: a line with an encoded-word within 76: ${line}`);
    assert.ok(line.trim() !== '', 'no header line of whitespace only');
  }
  for (const word of rawHeaders.match(/=\?[^?]+\?[BbQq]\?[^?]*\?=/g) ?? []) {
    assert.ok(word.length <= 75, `RFC 2047 §2: an encoded-word of at most 75: ${word}`);
    // §5 rule 3: each encoded-word holds whole characters: it decodes on its own without a
    // replacement character, and back to the same bytes.
    const bytes = Buffer.from(word.slice('=?UTF-8?B?'.length, -2), 'base64');
    assert.ok(Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes), `${word} holds whole characters`);
  }
}

// --- the tests ---------------------------------------------------------------------------------

describe('google.gmail.send', () => {
  it('previews exactly the documented request: POST users/me/messages/send with {raw}, token redacted', () => {
    const result = preview({ to: ['bob@example.com'], subject: 'Hi', text: 'Hello Bob' });
    assert.deepEqual(result, {
      action: 'google.gmail.send',
      method: 'POST',
      url: 'https://www.googleapis.com/gmail/v1/users/me/messages/send',
      headers: { authorization: 'Bearer [redacted]', 'content-type': 'application/json; charset=utf-8' },
      body: { raw: (result.body as { raw: string }).raw },
    });
    assert.equal(
      Buffer.from((result.body as { raw: string }).raw, 'base64url').toString('latin1'),
      [
        'To: bob@example.com',
        'Subject: Hi',
        'Date: Wed, 04 Mar 2026 05:06:07 +0000',
        'Message-ID: <id1@tokenkeeper.invalid>',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=UTF-8',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        'Hello Bob',
      ].join('\r\n'),
    );
  });

  it('encodes the raw message as base64url without padding, whatever its length', () => {
    for (const text of ['a', 'ab', 'abc', 'abcd']) {
      const raw = (preview({ to: ['bob@example.com'], subject: 'x', text }).body as { raw: string }).raw;
      assert.doesNotMatch(raw, /[=+/]/);
      assert.equal(Buffer.from(raw, 'base64url').toString('latin1').endsWith(`\r\n\r\n${text}`), true);
    }
  });

  it('writes non-ASCII subjects and display names as RFC 2047 encoded-words, folded, whole characters each', () => {
    const subject = 'Grüße 👋 — ein Betreff, der länger ist als eine Zeile, mit 日本語 und noch mehr 👋👋👋 Zeichen';
    const raw = rawMessage({
      to: [{ email: 'anna@example.com', name: 'Anna Müller' }, { email: 'bob@example.com', name: 'Bob' }],
      cc: [{ email: 'kenji@example.jp', name: '山田 健二 👋' }],
      subject,
      text: 'Grüße 👋',
    });
    assertWellFormed(raw);
    const { headers } = parseEntity(raw);
    assert.equal(decodeHeader(headers.get('subject')!), subject);
    assert.match(headers.get('subject')!, /^=\?UTF-8\?B\?/);
    assert.equal(decodeHeader(headers.get('to')!), 'Anna Müller <anna@example.com>, Bob <bob@example.com>');
    assert.equal(decodeHeader(headers.get('cc')!), '山田 健二 👋 <kenji@example.jp>');
    assert.equal(decodeBody(parseEntity(raw)), 'Grüße 👋');
  });

  it('quotes ASCII display names with specials, escaping quotes and backslashes, and never decodes =? as text', () => {
    const raw = rawMessage({
      to: [
        { email: 'jane@example.com', name: 'Smith, Jane "JJ" \\o/' },
        { email: 'tricky@example.com', name: '=?UTF-8?B?SGk=?=' },
      ],
      subject: 'Looks like =?UTF-8?B?SGk=?= but is not',
      text: 'x',
    });
    assertWellFormed(raw);
    const { headers } = parseEntity(raw);
    assert.ok(headers.get('to')!.startsWith('"Smith, Jane \\"JJ\\" \\\\o/" <jane@example.com>,'), headers.get('to'));
    assert.equal(decodeHeader(headers.get('subject')!), 'Looks like =?UTF-8?B?SGk=?= but is not');
    assert.ok(decodeHeader(headers.get('to')!).endsWith('=?UTF-8?B?SGk=?= <tricky@example.com>'));
  });

  it('folds a long ASCII subject at its spaces, keeping every character', () => {
    const subject = Array.from({ length: 40 }, (_, index) => `word${index}`).join(' ');
    const raw = rawMessage({ to: ['bob@example.com'], subject, text: 'x' });
    assertWellFormed(raw);
    const { headers, rawHeaders } = parseEntity(raw);
    assert.equal(headers.get('subject'), subject);
    assert.ok(rawHeaders.split('\r\n').filter((line) => line.startsWith(' ')).length >= 2, 'folded onto continuation lines');
    assert.doesNotMatch(rawHeaders, /=\?/, 'plain ASCII stays readable');
  });

  it('folds an address list of many recipients, each mailbox readable after unfolding', () => {
    const to = Array.from({ length: 30 }, (_, index) => ({ email: `person${index}@example.com`, name: index % 2 === 0 ? `Person Nummer ${index} Ä` : `Person ${index}` }));
    const raw = rawMessage({ to, bcc: ['hidden@example.com'], reply_to: [{ email: 'support@example.com', name: 'Support Team' }], subject: 'x', text: 'x' });
    assertWellFormed(raw);
    const { headers } = parseEntity(raw);
    const expected = to.map((recipient) => `${recipient.name} <${recipient.email}>`).join(', ');
    assert.equal(decodeHeader(headers.get('to')!), expected);
    assert.equal(headers.get('bcc'), 'hidden@example.com', 'Bcc is written: Gmail takes its recipients from it');
    assert.equal(headers.get('reply-to'), 'Support Team <support@example.com>');
    assert.equal(headers.has('from'), false, 'Gmail sets From to the connected account');
  });

  it('with text and html, is multipart/alternative: plain part first, HTML last, each UTF-8 with its encoding', () => {
    const text = 'Hallo Anna,\n\nviele Grüße 👋\nLine with trailing space \n. a dot line\nFrom the start\n= sign and tab\t\n';
    const html = `<p>Hallo <b>Anna</b>,</p><p>viele Grüße 👋</p>${'<span>lang</span>'.repeat(30)}`;
    const raw = rawMessage({ to: ['anna@example.com'], subject: 'Grüße 👋', text, html });
    assertWellFormed(raw);
    const message = parseEntity(raw);
    assert.equal(message.headers.get('mime-version'), '1.0');
    assert.match(message.headers.get('content-type')!, /^multipart\/alternative; boundary="=_[^"]+"$/);
    const parts = multipartParts(message);
    assert.equal(parts.length, 2);
    assert.equal(parts[0]!.headers.get('content-type'), 'text/plain; charset=UTF-8');
    assert.equal(parts[1]!.headers.get('content-type'), 'text/html; charset=UTF-8');
    assert.equal(decodeBody(parts[0]!), text.replace(/\n/g, '\r\n'), 'the text, line breaks as CRLF');
    assert.equal(decodeBody(parts[1]!), html);
    // The boundary can appear in no encoded body line.
    const boundary = /boundary="([^"]+)"/.exec(message.headers.get('content-type')!)![1]!;
    for (const part of parts) assert.ok(!part.body.includes(boundary));
  });

  it('escapes what quoted-printable must: =, trailing whitespace, a leading dot or From, long lines with soft breaks', () => {
    const text = `a=b \n.\nFrom x\n${'y'.repeat(200)}\nx${'ü'.repeat(30)}`;
    const raw = rawMessage({ to: ['bob@example.com'], subject: 'x', text });
    assertWellFormed(raw);
    const entity = parseEntity(raw);
    assert.equal(entity.headers.get('content-transfer-encoding'), 'quoted-printable');
    const lines = entity.body.split('\r\n');
    assert.equal(lines[0], 'a=3Db=20');
    assert.equal(lines[1], '=2E');
    assert.equal(lines[2], '=46rom x');
    assert.ok(lines[3]!.endsWith('='), 'a soft line break');
    assert.ok(lines.at(-2)!.endsWith('=') && /^=[0-9A-F]{2}/.test(lines.at(-1)!), 'escapes run across a soft line break, never cut by it');
    assert.equal(decodeBody(entity), text.replace(/\n/g, '\r\n'));
  });

  it('sends text that is mostly not ASCII as base64 in lines of 76', () => {
    const text = `${'日本語のテキスト👋'.repeat(20)}\r\n二行目`;
    const raw = rawMessage({ to: ['bob@example.com'], subject: 'x', html: text });
    assertWellFormed(raw);
    const entity = parseEntity(raw);
    assert.equal(entity.headers.get('content-type'), 'text/html; charset=UTF-8');
    assert.equal(entity.headers.get('content-transfer-encoding'), 'base64');
    assert.equal(decodeBody(entity), text);
  });

  it('dates the message by the given clock and takes the Message-ID domain from the account', () => {
    const result = preview({ to: ['bob@example.com'], subject: 'x', text: 'x' }, { id: '1', label: 'me@corp.example' });
    const { headers } = parseEntity(Buffer.from((result.body as { raw: string }).raw, 'base64url').toString('latin1'));
    assert.equal(headers.get('date'), 'Wed, 04 Mar 2026 05:06:07 +0000');
    assert.equal(headers.get('message-id'), '<id1@corp.example>');
  });

  it('refuses invalid input with every problem at once, and builds nothing', () => {
    let built = false;
    const spy: ActionDefinition = { ...gmail, build: (...args) => ((built = true), gmail.build(...args)) };
    assert.throws(
      () =>
        previewAction(spy, { to: [], cc: ['not-an-address'], reply_to: [{ email: 'a@b.example', name: 'Evil\r\nBcc: x@y.example' }], subject: 'Hi\r\nBcc: x@y.example', colour: 'red' }, {
          apiBaseUrl: 'https://www.googleapis.com',
          integration: { key: 'google', provider: 'google' },
          now: NOW,
        }),
      (error) => {
        assert.ok(isTokenkeeperError(error, 'invalid_request'));
        assert.equal(error.status, 400);
        assert.equal(error.details?.outcome, 'validation_error');
        assert.deepEqual(error.details?.problems, [
          'unknown field "colour"',
          'cc[0] must be an e-mail address (alice@example.com) or {"email": "alice@example.com", "name": "Alice"}',
          'reply_to[0] must be an e-mail address (alice@example.com) or {"email": "alice@example.com", "name": "Alice"}',
          'subject must be text of at most 998 characters without line breaks or control characters',
          'text or html is required',
        ]);
        return true;
      },
    );
    assert.throws(
      () => previewAction(spy, { subject: 'x', text: 'x' }, { apiBaseUrl: 'https://www.googleapis.com', integration: { key: 'google', provider: 'google' }, now: NOW }),
      (error) => isTokenkeeperError(error, 'invalid_request') && (error.details?.problems as string[]).includes('to, cc or bcc must list at least one recipient'),
    );
    assert.throws(
      () => previewAction(spy, ['not', 'an', 'object'], { apiBaseUrl: 'https://www.googleapis.com', integration: { key: 'google', provider: 'google' }, now: NOW }),
      (error) => isTokenkeeperError(error, 'invalid_request') && /the input must be a JSON object/.test(error.message),
    );
    assert.equal(built, false, 'nothing was built');
  });

  it('takes bcc alone as recipients, and an empty text as a body', () => {
    const raw = rawMessage({ bcc: ['hidden@example.com'], subject: '', text: '' });
    assertWellFormed(raw);
    const { headers } = parseEntity(raw);
    assert.equal(headers.has('to'), false);
    assert.equal(headers.get('subject'), '');
  });
});
