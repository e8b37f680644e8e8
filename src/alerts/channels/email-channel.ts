import type { Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { AlertChannel, GroupNotification, Severity } from '../channel.ts';
import { ChannelDeliveryError, scrubSecrets } from './delivery-error.ts';
import { plainText } from './message-text.ts';

/** The SMTP server, as parsed from `TOKENKEEPER_SMTP_URL`. */
export interface SmtpServer {
  host: string;
  port: number;
  /** `smtps://`: TLS from the first byte (port 465). `smtp://` upgrades with STARTTLS when offered. */
  secure: boolean;
  username: string | null;
  password: string | null;
}

export interface EmailChannelOptions {
  smtp: SmtpServer;
  /** `TOKENKEEPER_ALERT_EMAIL_FROM`. */
  from: string;
  /** `TOKENKEEPER_ALERT_EMAIL_TO`. */
  to: readonly string[];
  minSeverity?: Severity;
  timeoutMs: number;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/**
 * Sends each notification as one plain-text e-mail (subject: the notification's title) to every
 * configured address, with nodemailer over SMTP. The request timeout bounds connecting, the
 * greeting and every socket wait. A password is never sent over an unencrypted connection to a
 * host other than this machine: with credentials and `smtp://`, STARTTLS is required.
 *
 * SMTP's own answer decides retrying: a 4xx is temporary, a 5xx (a refused sender or recipient,
 * a failed login) is not. A message refused for some recipients but accepted for others is a
 * non-retryable failure naming the refused ones (retrying would mail the others twice).
 */
export class EmailChannel implements AlertChannel {
  readonly name = 'email';
  readonly minSeverity: Severity;
  readonly #transportOptions: SMTPTransport.Options;
  /**
   * Created on the first send: nodemailer (about forty modules) is loaded only by a process that
   * mails, not by every `tokenkeeper serve` that merely has the channel configured.
   */
  #transport: Promise<Transporter<SMTPTransport.SentMessageInfo>> | null = null;
  readonly #from: string;
  readonly #to: readonly string[];
  readonly #timeoutMs: number;
  readonly #secrets: readonly (string | null)[];

  constructor(options: EmailChannelOptions) {
    const { smtp } = options;
    this.minSeverity = options.minSeverity ?? 'LOW';
    this.#from = options.from;
    this.#to = options.to;
    this.#timeoutMs = options.timeoutMs;
    this.#secrets = [smtp.password];
    const credentials = smtp.username !== null || smtp.password !== null;
    this.#transportOptions = {
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      requireTLS: !smtp.secure && credentials && !LOOPBACK.has(smtp.host),
      auth: credentials ? { user: smtp.username ?? '', pass: smtp.password ?? '' } : undefined,
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
      disableFileAccess: true,
      disableUrlAccess: true,
    };
  }

  async send(notification: GroupNotification, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw new ChannelDeliveryError(this.name, 'aborted', 'the send was aborted');
    this.#transport ??= import('nodemailer').then(({ default: nodemailer }) => nodemailer.createTransport(this.#transportOptions));
    const transport = await this.#transport;
    if (signal.aborted) throw new ChannelDeliveryError(this.name, 'aborted', 'the send was aborted');
    const sending = transport.sendMail({
      from: this.#from,
      to: [...this.#to],
      subject: notification.title,
      text: plainText(notification),
      headers: { 'X-Tokenkeeper-Notification': notification.id, 'X-Tokenkeeper-Group': notification.groupKey },
    });
    let info: SMTPTransport.SentMessageInfo;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      info = await Promise.race([
        sending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new ChannelDeliveryError(this.name, 'timeout', `no answer from the SMTP server within ${this.#timeoutMs} ms`)), this.#timeoutMs);
          onAbort = () => reject(new ChannelDeliveryError(this.name, 'aborted', 'the send was aborted'));
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } catch (error) {
      sending.catch(() => undefined);
      throw this.#failure(error);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
    if (info.rejected.length > 0) {
      const refused = (info.rejected as unknown[]).map((entry) => (typeof entry === 'string' ? entry : String((entry as { address?: unknown }).address))).join(', ');
      throw new ChannelDeliveryError(this.name, 'rejected', `the SMTP server refused ${refused} (accepted ${info.accepted.length} of ${this.#to.length})`, { retryable: false });
    }
  }

  async close(): Promise<void> {
    (await this.#transport)?.close();
  }

  #failure(error: unknown): ChannelDeliveryError {
    if (error instanceof ChannelDeliveryError) return error;
    const { code, responseCode, message } = error as { code?: string; responseCode?: number; message?: string };
    const text = scrubSecrets(`${message ?? String(error)}`.replace(/\s+/g, ' ').slice(0, 300), this.#secrets);
    if (code === 'ETIMEDOUT') return new ChannelDeliveryError(this.name, 'timeout', `the SMTP server did not answer in time (${text})`);
    if (typeof responseCode === 'number') {
      return new ChannelDeliveryError(this.name, 'rejected', text, { status: responseCode, retryable: responseCode < 500 });
    }
    if (code === 'EAUTH') return new ChannelDeliveryError(this.name, 'rejected', text, { retryable: false });
    return new ChannelDeliveryError(this.name, 'network', text);
  }
}
