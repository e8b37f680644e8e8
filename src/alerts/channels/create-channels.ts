import type { Clock } from '../../clock.ts';
import type { AlertChannelsConfig } from '../../config/index.ts';
import type { Logger } from '../../logger.ts';
import type { AlertChannel, Severity } from '../channel.ts';
import { LogChannel } from '../log-channel.ts';
import { originOf } from './delivery-error.ts';
import { EmailChannel } from './email-channel.ts';
import { PagerDutyChannel } from './pagerduty-channel.ts';
import { SlackChannel } from './slack-channel.ts';
import { SmsChannel } from './sms-channel.ts';
import { WebhookChannel } from './webhook-channel.ts';

export interface CreateAlertChannelsOptions {
  /** The console channel's logger. */
  logger: Logger;
  /** `TOKENKEEPER_PUBLIC_URL`: its host is PagerDuty's `payload.source`. */
  publicUrl: string;
  /** Dates webhook signatures. Default the system clock, and keep it so in service: the receiver
   * checks `webhook-timestamp` against its real clock, whatever clock the alert policy runs on. */
  clock?: Clock;
}

/**
 * The configured channels, the console first (the core's `LogChannel`: always on, and the
 * engine's fallback),
 * then webhook, Slack, e-mail, SMS and PagerDuty in that order, each only when configured.
 * The configuration is already validated, so this does not fail.
 */
export function createAlertChannels(config: AlertChannelsConfig, options: CreateAlertChannelsOptions): AlertChannel[] {
  const timeoutMs = config.timeoutMs;
  const channels: AlertChannel[] = [new LogChannel(options.logger, { name: 'console', minSeverity: config.console.minSeverity })];
  if (config.webhook) channels.push(new WebhookChannel({ ...config.webhook, timeoutMs, clock: options.clock }));
  if (config.slack) channels.push(new SlackChannel({ ...config.slack, timeoutMs }));
  if (config.email) channels.push(new EmailChannel({ ...config.email, timeoutMs }));
  if (config.sms) channels.push(new SmsChannel({ ...config.sms, timeoutMs }));
  if (config.pagerduty) channels.push(new PagerDutyChannel({ ...config.pagerduty, source: sourceOf(options.publicUrl), timeoutMs }));
  return channels;
}

/** One configured channel as it may be shown (start-up log, `alerts test`): no secret. */
export interface ChannelDescription {
  name: string;
  minSeverity: Severity;
  /** Where it sends: an origin, `smtp host:port`, or recipient counts; never a token or path. */
  target: string;
}

/** What `createAlertChannels` builds, for display. */
export function describeAlertChannels(config: AlertChannelsConfig): ChannelDescription[] {
  const out: ChannelDescription[] = [{ name: 'console', minSeverity: config.console.minSeverity, target: 'the log' }];
  if (config.webhook) out.push({ name: 'webhook', minSeverity: config.webhook.minSeverity, target: originOf(config.webhook.url) });
  if (config.slack) out.push({ name: 'slack', minSeverity: config.slack.minSeverity, target: originOf(config.slack.webhookUrl) });
  if (config.email) {
    const { smtp } = config.email;
    out.push({ name: 'email', minSeverity: config.email.minSeverity, target: `${smtp.secure ? 'smtps' : 'smtp'} ${smtp.host}:${smtp.port} to ${config.email.to.length} address(es)` });
  }
  if (config.sms) out.push({ name: 'sms', minSeverity: config.sms.minSeverity, target: `${originOf(config.sms.apiUrl)} to ${config.sms.to.length} number(s)` });
  if (config.pagerduty) out.push({ name: 'pagerduty', minSeverity: config.pagerduty.minSeverity, target: originOf(config.pagerduty.apiUrl) });
  return out;
}

function sourceOf(publicUrl: string): string {
  try {
    return new URL(publicUrl).host || 'tokenkeeper';
  } catch {
    return 'tokenkeeper';
  }
}
