import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/**
 * Local servers speaking the protocols Tokenkeeper's alert channels and webhooks talk (plain HTTP
 * for Slack, Twilio, PagerDuty and webhook receivers; SMTP for e-mail), on free ports of
 * 127.0.0.1. Each registers its close in `closers`, which the test file runs in `after`.
 */
export type Closers = (() => Promise<void>)[];

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type Answer = { status: number; body?: string; contentType?: string } | 'hang';

/** An HTTP server that records each request and answers with `answer(request)` ('hang': never). */
export async function httpServer(closers: Closers, answer: (request: Received) => Answer): Promise<{ url: string; requests: Received[] }> {
  const requests: Received[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(received);
      const reply = answer(received);
      if (reply === 'hang') return;
      res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'application/json' });
      res.end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

export interface Mail {
  from: string;
  to: string[];
  raw: string;
  user: string | undefined;
}

/** An SMTP server (no TLS) taking PLAIN/LOGIN with one username and password; `refuse` is a mailbox it answers 550 for. */
export async function smtpServer(
  closers: Closers,
  options: { username: string; password: string; refuse?: string },
): Promise<{ port: number; mails: Mail[] }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === options.username && auth.password === options.password) callback(null, { user: auth.username });
      else callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      if (address.address === options.refuse) callback(Object.assign(new Error('No such mailbox'), { responseCode: 550 }));
      else callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          user: session.user as string | undefined,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as AddressInfo).port, mails };
}

/** The text part of a plain nodemailer message: headers, blank line, quoted-printable body. */
export function parseMail(raw: string): { headers: string; text: string } {
  const split = raw.indexOf('\r\n\r\n');
  const body = raw.slice(split + 4).replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return { headers: raw.slice(0, split), text: body };
}
