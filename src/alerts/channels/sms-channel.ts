import type { AlertChannel, GroupNotification, Severity } from '../channel.ts';
import { fitGsm7 } from './gsm7.ts';
import { postToChannel } from './http-post.ts';
import { sendEach } from './send-each.ts';

export interface SmsChannelOptions {
  /** `TOKENKEEPER_TWILIO_ACCOUNT_SID`, `AC` + 32 hex digits. */
  accountSid: string;
  /** `TOKENKEEPER_TWILIO_AUTH_TOKEN`. */
  authToken: string;
  /** `TOKENKEEPER_TWILIO_FROM`: an E.164 number or an alphanumeric sender id. */
  from: string;
  /** `TOKENKEEPER_ALERT_SMS_TO`: E.164 numbers. */
  to: readonly string[];
  /** `TOKENKEEPER_TWILIO_API_URL`, default `https://api.twilio.com`. */
  apiUrl: string;
  minSeverity?: Severity;
  timeoutMs: number;
}

/** Notifications whose recipients this process remembers (for retries of partial sends). */
const REMEMBERED_NOTIFICATIONS = 200;

/**
 * Sends one SMS per recipient through Twilio's Messages API: a form-encoded POST of `To`, `From`
 * and `Body` to `/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic auth with the
 * account SID and auth token; Twilio answers 201. The body is one line in the GSM-7 alphabet cut
 * to 160 characters, so it is one segment (one message billed, never split on the phone).
 *
 * When some recipients fail, the send fails, and this instance's retry of the same notification
 * (same id) goes only to the recipients that did not get it yet. The memory is this process's:
 * a retry taken over by another instance (after a restart, or when this one died) texts every
 * recipient again.
 */
export class SmsChannel implements AlertChannel {
  readonly name = 'sms';
  readonly minSeverity: Severity;
  readonly #options: SmsChannelOptions;
  readonly #endpoint: string;
  readonly #authorization: string;
  /** notification id → recipients that already got it. */
  readonly #delivered = new Map<string, Set<string>>();

  constructor(options: SmsChannelOptions) {
    this.#options = options;
    this.minSeverity = options.minSeverity ?? 'HIGH';
    this.#endpoint = `${options.apiUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages.json`;
    this.#authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
  }

  async send(notification: GroupNotification, signal: AbortSignal): Promise<void> {
    const body = smsBody(notification);
    const delivered = this.#delivered.get(notification.id) ?? new Set<string>();
    const pending = this.#options.to.filter((to) => !delivered.has(to));
    try {
      await sendEach(this.name, pending, (to) => this.#post(to, body, signal), { signal, noun: 'messages', onSent: (to) => delivered.add(to) });
    } finally {
      this.#remember(notification.id, delivered);
    }
  }

  async #post(to: string, body: string, signal: AbortSignal): Promise<void> {
    await postToChannel({
      channel: this.name,
      url: this.#endpoint,
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: this.#authorization, 'user-agent': 'Tokenkeeper' },
      body: new URLSearchParams({ To: to, From: this.#options.from, Body: body }).toString(),
      signal,
      timeoutMs: this.#options.timeoutMs,
      secrets: [this.#options.authToken, this.#authorization],
    });
  }

  #remember(id: string, delivered: Set<string>): void {
    this.#delivered.delete(id);
    if (delivered.size > 0) this.#delivered.set(id, delivered);
    while (this.#delivered.size > REMEMBERED_NOTIFICATIONS) this.#delivered.delete(this.#delivered.keys().next().value!);
  }
}

/** `Tokenkeeper HIGH: 3 google connections need re-authorization`, one GSM-7 segment. */
export function smsBody(notification: GroupNotification): string {
  const word = notification.kind === 'resolved' ? 'RESOLVED' : notification.kind === 'test' ? 'TEST' : notification.severity;
  return fitGsm7(`Tokenkeeper ${word}: ${notification.text}`.replace(/\s+/g, ' ').trim());
}
