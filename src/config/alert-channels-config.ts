import { MAX_WEBHOOK_SECRET_BYTES, MIN_WEBHOOK_SECRET_BYTES, parseWebhookSecret, WEBHOOK_SECRET_PREFIX } from '../delivery/index.ts';
import type { VariableReader } from './variable-reader.ts';

/** An alert severity, as `src/alerts/channel.ts` defines it (config does not import alerts). */
export type AlertSeverity = 'LOW' | 'MEDIUM' | 'HIGH';

/**
 * The notification channels of the alerting (docs/alerts.md), each null when not configured.
 * The console channel is always on. A channel is configured by setting its required variables;
 * setting only some of them is an error naming the missing ones, never a channel silently off.
 */
export interface AlertChannelsConfig {
  /** `TOKENKEEPER_ALERT_CHANNEL_TIMEOUT_MS`: timeout of one request to a channel's server. Default 10000. */
  timeoutMs: number;
  /** `TOKENKEEPER_ALERT_CONSOLE_MIN_SEVERITY`: default LOW. */
  console: { minSeverity: AlertSeverity };
  /** `TOKENKEEPER_ALERT_WEBHOOK_URL` + `TOKENKEEPER_ALERT_WEBHOOK_SECRET` (`whsec_<base64>`, 24-64 bytes). */
  webhook: { url: string; secret: string; minSeverity: AlertSeverity } | null;
  /** `TOKENKEEPER_ALERT_SLACK_WEBHOOK_URL`. */
  slack: { webhookUrl: string; minSeverity: AlertSeverity } | null;
  /** `TOKENKEEPER_SMTP_URL` + `TOKENKEEPER_ALERT_EMAIL_FROM` + `TOKENKEEPER_ALERT_EMAIL_TO`. */
  email: {
    smtp: { host: string; port: number; secure: boolean; username: string | null; password: string | null };
    from: string;
    to: readonly string[];
    minSeverity: AlertSeverity;
  } | null;
  /** `TOKENKEEPER_TWILIO_ACCOUNT_SID`, `_AUTH_TOKEN`, `_FROM`, `TOKENKEEPER_ALERT_SMS_TO`; `TOKENKEEPER_TWILIO_API_URL`. */
  sms: { accountSid: string; authToken: string; from: string; to: readonly string[]; apiUrl: string; minSeverity: AlertSeverity } | null;
  /** `TOKENKEEPER_PAGERDUTY_ROUTING_KEY`; `TOKENKEEPER_PAGERDUTY_API_URL`. */
  pagerduty: { routingKey: string; apiUrl: string; minSeverity: AlertSeverity } | null;
}

export const DEFAULT_TWILIO_API_URL = 'https://api.twilio.com';
export const DEFAULT_PAGERDUTY_API_URL = 'https://events.pagerduty.com';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
/** ITU-T E.164: `+`, a country code not starting with 0, at most 15 digits in all. */
const E164 = /^\+[1-9]\d{1,14}$/;
/** A Twilio alphanumeric sender id: 1-11 letters, digits and spaces, at least one letter. */
const ALPHANUMERIC_SENDER = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/;
const TWILIO_ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
const PAGERDUTY_ROUTING_KEY = /^[A-Za-z0-9]{32}$/;
const EMAIL_ADDRESS = /^[^\s@<>(),;:"[\]\\]+@[^\s@<>(),;:"[\]\\]+$/;
const NAMED_ADDRESS = /^[^<>]*<([^<>]+)>$/;

/** Reads and checks every alert channel variable; problems are recorded on `read`. */
export function readAlertChannels(read: VariableReader, production: boolean): AlertChannelsConfig {
  return {
    timeoutMs: read.integer('TOKENKEEPER_ALERT_CHANNEL_TIMEOUT_MS', 10_000, { min: 100, max: 120_000, unit: 'milliseconds' }),
    console: { minSeverity: readSeverity(read, 'TOKENKEEPER_ALERT_CONSOLE_MIN_SEVERITY', 'LOW') },
    webhook: readWebhook(read, production),
    slack: readSlack(read, production),
    email: readEmail(read),
    sms: readSms(read, production),
    pagerduty: readPagerDuty(read, production),
  };
}

function readSeverity(read: VariableReader, name: string, fallback: AlertSeverity): AlertSeverity {
  return read.oneOf(name, ['low', 'medium', 'high'] as const, fallback.toLowerCase() as 'low' | 'medium' | 'high').toUpperCase() as AlertSeverity;
}

/**
 * Whether a channel is configured: true when any of its variables is set. Then each of `required`
 * that is unset is a problem naming it and the variable that was set.
 */
function channelSet(read: VariableReader, label: string, required: readonly string[], optional: readonly string[]): boolean {
  const set = [...required, ...optional].filter((name) => read.has(name));
  if (set.length === 0) return false;
  const missing = required.filter((name) => !read.has(name));
  for (const name of missing) {
    read.fail(name, `is required because ${set.join(' and ')} ${set.length === 1 ? 'is' : 'are'} set: the ${label} channel needs ${listed(required)}. Set it, or unset the others to turn the channel off`);
  }
  return missing.length === 0;
}

function listed(names: readonly string[]): string {
  return names.length <= 2 ? names.join(' and ') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/**
 * An http(s) URL. In production it must be https unless its host is this machine: these URLs
 * carry credentials (a Slack URL is one; Twilio's auth token, PagerDuty's routing key).
 * `base`: an API base URL, so no query or fragment (paths are appended to it).
 */
function readUrl(read: VariableReader, name: string, production: boolean, options: { base: boolean; example: string }): string | null {
  const value = read.string(name);
  if (value === null) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    read.fail(name, `${read.shown(name)} is not an absolute URL; use e.g. ${options.example}`);
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    read.fail(name, `${read.shown(name)} must start with https:// (or http:// for a server on this machine)`);
    return null;
  }
  if (url.username !== '' || url.password !== '') {
    read.fail(name, 'must not contain a user name or password');
    return null;
  }
  if (options.base && (url.search !== '' || url.hash !== '')) {
    read.fail(name, `${read.shown(name)} must not have a query or fragment; the API path is appended to it`);
    return null;
  }
  if (production && url.protocol !== 'https:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    read.fail(name, `${read.shown(name)} must use https in production (credentials travel with it); http is only allowed for localhost`);
    return null;
  }
  return options.base ? `${url.origin}${url.pathname.replace(/\/+$/, '')}` : value;
}

function readWebhook(read: VariableReader, production: boolean): AlertChannelsConfig['webhook'] {
  const complete = channelSet(read, 'webhook', ['TOKENKEEPER_ALERT_WEBHOOK_URL', 'TOKENKEEPER_ALERT_WEBHOOK_SECRET'], ['TOKENKEEPER_ALERT_WEBHOOK_MIN_SEVERITY']);
  const minSeverity = readSeverity(read, 'TOKENKEEPER_ALERT_WEBHOOK_MIN_SEVERITY', 'LOW');
  const url = readUrl(read, 'TOKENKEEPER_ALERT_WEBHOOK_URL', production, { base: false, example: 'https://ops.example.com/hooks/tokenkeeper' });
  const secret = readWebhookSecret(read, 'TOKENKEEPER_ALERT_WEBHOOK_SECRET');
  if (!complete || url === null || secret === null) return null;
  return { url, secret, minSeverity };
}

/** A `whsec_<base64>` secret of 24-64 bytes (the Standard Webhooks recommendation). */
export function readWebhookSecret(read: VariableReader, name: string): string | null {
  const value = read.string(name);
  if (value === null) return null;
  const generate = `generate one with \`node -e "console.log('${WEBHOOK_SECRET_PREFIX}' + require('node:crypto').randomBytes(32).toString('base64'))"\``;
  if (!value.startsWith(WEBHOOK_SECRET_PREFIX)) {
    read.fail(name, `must start with ${WEBHOOK_SECRET_PREFIX} followed by base64 (the Standard Webhooks secret format); ${generate}`);
    return null;
  }
  let bytes: number;
  try {
    bytes = parseWebhookSecret(value).length;
  } catch (error) {
    read.fail(name, `${(error as Error).message}; ${generate}`);
    return null;
  }
  if (bytes < MIN_WEBHOOK_SECRET_BYTES || bytes > MAX_WEBHOOK_SECRET_BYTES) {
    read.fail(name, `decodes to ${bytes} bytes; use ${MIN_WEBHOOK_SECRET_BYTES}-${MAX_WEBHOOK_SECRET_BYTES} random bytes; ${generate}`);
    return null;
  }
  return value;
}

function readSlack(read: VariableReader, production: boolean): AlertChannelsConfig['slack'] {
  const complete = channelSet(read, 'Slack', ['TOKENKEEPER_ALERT_SLACK_WEBHOOK_URL'], ['TOKENKEEPER_ALERT_SLACK_MIN_SEVERITY']);
  const minSeverity = readSeverity(read, 'TOKENKEEPER_ALERT_SLACK_MIN_SEVERITY', 'LOW');
  const webhookUrl = readUrl(read, 'TOKENKEEPER_ALERT_SLACK_WEBHOOK_URL', production, { base: false, example: 'https://hooks.slack.com/services/T000/B000/XXXX' });
  if (!complete || webhookUrl === null) return null;
  return { webhookUrl, minSeverity };
}

function readEmail(read: VariableReader): AlertChannelsConfig['email'] {
  const complete = channelSet(read, 'e-mail', ['TOKENKEEPER_SMTP_URL', 'TOKENKEEPER_ALERT_EMAIL_FROM', 'TOKENKEEPER_ALERT_EMAIL_TO'], ['TOKENKEEPER_ALERT_EMAIL_MIN_SEVERITY']);
  const minSeverity = readSeverity(read, 'TOKENKEEPER_ALERT_EMAIL_MIN_SEVERITY', 'LOW');
  const smtp = readSmtpUrl(read, 'TOKENKEEPER_SMTP_URL');
  const fromValue = read.string('TOKENKEEPER_ALERT_EMAIL_FROM');
  let from: string | null = null;
  if (fromValue !== null) {
    const address = NAMED_ADDRESS.exec(fromValue)?.[1]?.trim() ?? fromValue;
    if (EMAIL_ADDRESS.test(address)) from = fromValue;
    else read.fail('TOKENKEEPER_ALERT_EMAIL_FROM', `${read.shown('TOKENKEEPER_ALERT_EMAIL_FROM')} is not an e-mail address; use e.g. alerts@example.com or "Tokenkeeper <alerts@example.com>"`);
  }
  const to = readList(read, 'TOKENKEEPER_ALERT_EMAIL_TO', (entry) =>
    EMAIL_ADDRESS.test(entry) ? null : `${JSON.stringify(entry.slice(0, 80))} is not an e-mail address; list addresses such as ops@example.com, separated by commas`,
  );
  if (!complete || smtp === null || from === null || to === null) return null;
  return { smtp, from, to, minSeverity };
}

/** `smtp://user:pass@host:port` (STARTTLS when offered; port 587 by default) or `smtps://` (TLS; 465). */
function readSmtpUrl(read: VariableReader, name: string): NonNullable<AlertChannelsConfig['email']>['smtp'] | null {
  const value = read.string(name);
  if (value === null) return null;
  const example = 'smtp://user:password@smtp.example.com:587 (or smtps://…:465 for TLS from the start); percent-encode special characters in the password';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    read.fail(name, `is not a URL; use ${example}`);
    return null;
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    read.fail(name, `has the scheme "${url.protocol}"; use ${example}`);
    return null;
  }
  if (url.hostname === '') {
    read.fail(name, `has no host; use ${example}`);
    return null;
  }
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    read.fail(name, `must not have a path, query or fragment; use ${example}`);
    return null;
  }
  const secure = url.protocol === 'smtps:';
  let username: string | null;
  let password: string | null;
  try {
    username = url.username === '' ? null : decodeURIComponent(url.username);
    password = url.password === '' ? null : decodeURIComponent(url.password);
  } catch {
    read.fail(name, `has a malformed percent-encoding in its user name or password; use ${example}`);
    return null;
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port === '' ? (secure ? 465 : 587) : Number(url.port), secure, username, password };
}

function readSms(read: VariableReader, production: boolean): AlertChannelsConfig['sms'] {
  const complete = channelSet(
    read,
    'SMS',
    ['TOKENKEEPER_TWILIO_ACCOUNT_SID', 'TOKENKEEPER_TWILIO_AUTH_TOKEN', 'TOKENKEEPER_TWILIO_FROM', 'TOKENKEEPER_ALERT_SMS_TO'],
    ['TOKENKEEPER_TWILIO_API_URL', 'TOKENKEEPER_ALERT_SMS_MIN_SEVERITY'],
  );
  const minSeverity = readSeverity(read, 'TOKENKEEPER_ALERT_SMS_MIN_SEVERITY', 'HIGH');
  const accountSid = read.string('TOKENKEEPER_TWILIO_ACCOUNT_SID');
  if (accountSid !== null && !TWILIO_ACCOUNT_SID.test(accountSid)) {
    read.fail('TOKENKEEPER_TWILIO_ACCOUNT_SID', `${read.shown('TOKENKEEPER_TWILIO_ACCOUNT_SID')} is not a Twilio account SID: AC followed by 32 hexadecimal digits (Twilio Console, Account Info)`);
  }
  const authToken = read.string('TOKENKEEPER_TWILIO_AUTH_TOKEN');
  if (authToken !== null && !/^[A-Za-z0-9]{16,}$/.test(authToken)) {
    read.fail('TOKENKEEPER_TWILIO_AUTH_TOKEN', 'is not a Twilio auth token: letters and digits only, 32 of them as the Twilio Console shows it');
  }
  const fromValue = read.string('TOKENKEEPER_TWILIO_FROM');
  if (fromValue !== null && !E164.test(fromValue) && !ALPHANUMERIC_SENDER.test(fromValue)) {
    read.fail('TOKENKEEPER_TWILIO_FROM', `${e164Problem(fromValue)}, or an alphanumeric sender id of up to 11 letters and digits`);
  }
  const to = readList(read, 'TOKENKEEPER_ALERT_SMS_TO', (entry) => (E164.test(entry) ? null : `${e164Problem(entry)}; separate several numbers with commas`));
  const apiUrl = readUrl(read, 'TOKENKEEPER_TWILIO_API_URL', production, { base: true, example: DEFAULT_TWILIO_API_URL }) ?? DEFAULT_TWILIO_API_URL;
  if (!complete || to === null || read.hasProblem('TOKENKEEPER_TWILIO_ACCOUNT_SID') || read.hasProblem('TOKENKEEPER_TWILIO_AUTH_TOKEN') || read.hasProblem('TOKENKEEPER_TWILIO_FROM')) {
    return null;
  }
  return { accountSid: accountSid!, authToken: authToken!, from: fromValue!, to, apiUrl, minSeverity };
}

/**
 * What is wrong with a phone number that is not E.164, and the E.164 form to use. A national
 * number (`07700900123`) is the usual mistake: its country cannot be guessed, so the example
 * shows the shape with a UK number.
 */
function e164Problem(entry: string): string {
  const shown = JSON.stringify(entry.slice(0, 40));
  if (/^\+?[\d\s().-]+$/.test(entry)) {
    const compact = entry.replace(/[\s().-]/g, '');
    const spaced = compact !== entry ? ' and remove the spaces and punctuation' : '';
    if (E164.test(compact)) return `${shown} is not an E.164 number: remove the spaces and punctuation (${compact})`;
    if (compact.startsWith('00') && E164.test(`+${compact.slice(2)}`)) return `${shown} is not an E.164 number: write + instead of the leading 00${spaced} (+${compact.slice(2)})`;
  }
  return `${shown} is not an E.164 number: write it with + and the country code and without the national leading 0, e.g. +447700900123, not 07700900123`;
}

function readPagerDuty(read: VariableReader, production: boolean): AlertChannelsConfig['pagerduty'] {
  const complete = channelSet(read, 'PagerDuty', ['TOKENKEEPER_PAGERDUTY_ROUTING_KEY'], ['TOKENKEEPER_PAGERDUTY_API_URL', 'TOKENKEEPER_ALERT_PAGERDUTY_MIN_SEVERITY']);
  const minSeverity = readSeverity(read, 'TOKENKEEPER_ALERT_PAGERDUTY_MIN_SEVERITY', 'HIGH');
  const routingKey = read.string('TOKENKEEPER_PAGERDUTY_ROUTING_KEY');
  if (routingKey !== null && !PAGERDUTY_ROUTING_KEY.test(routingKey)) {
    read.fail('TOKENKEEPER_PAGERDUTY_ROUTING_KEY', `is not an Events API v2 routing key: the 32-character Integration Key of a service's "Events API V2" integration (it is ${routingKey.length} characters long)`);
  }
  const apiUrl = readUrl(read, 'TOKENKEEPER_PAGERDUTY_API_URL', production, { base: true, example: DEFAULT_PAGERDUTY_API_URL }) ?? DEFAULT_PAGERDUTY_API_URL;
  if (!complete || read.hasProblem('TOKENKEEPER_PAGERDUTY_ROUTING_KEY')) return null;
  return { routingKey: routingKey!, apiUrl, minSeverity };
}

/** A comma-separated list: entries trimmed, duplicates dropped; each checked by `problem`. */
function readList(read: VariableReader, name: string, problem: (entry: string) => string | null): string[] | null {
  const value = read.string(name);
  if (value === null) return null;
  const entries: string[] = [];
  let ok = true;
  let emptyReported = false;
  for (const entry of value.split(',').map((part) => part.trim())) {
    if (entry === '') {
      if (!emptyReported) read.fail(name, 'has an empty entry; separate entries with single commas');
      emptyReported = true;
      ok = false;
      continue;
    }
    const message = problem(entry);
    if (message !== null) {
      read.fail(name, message);
      ok = false;
      continue;
    }
    if (!entries.includes(entry)) entries.push(entry);
  }
  return ok ? entries : null;
}
