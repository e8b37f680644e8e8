import type { AlertChannel, GroupNotification, Severity } from '../channel.ts';
import { postToChannel } from './http-post.ts';
import { alertLines, kindWord } from './message-text.ts';
import { urlSecretParts } from './webhook-channel.ts';

export interface SlackChannelOptions {
  /** `TOKENKEEPER_ALERT_SLACK_WEBHOOK_URL`, `https://hooks.slack.com/services/T…/B…/…`. */
  webhookUrl: string;
  minSeverity?: Severity;
  timeoutMs: number;
}

/** Slack's limits: a header block's text, a section's text (docs.slack.dev, Block Kit reference). */
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const LISTED_ALERTS = 10;
const SEVERITY_MARKS: Record<Severity, string> = { LOW: ':large_blue_circle:', MEDIUM: ':large_orange_circle:', HIGH: ':red_circle:' };

/**
 * Posts to a Slack incoming webhook: `{text, blocks}` as JSON, where `text` is the notification
 * fallback (what a phone shows) and the blocks carry the title, the summary and up to ten
 * alerts. Slack answers `200 ok`, or a 4xx with a short reason (`invalid_payload`,
 * `no_service`, `channel_is_archived`) that the error quotes. The URL's path is its secret:
 * errors show only `https://hooks.slack.com`.
 */
export class SlackChannel implements AlertChannel {
  readonly name = 'slack';
  readonly minSeverity: Severity;
  readonly #url: string;
  readonly #timeoutMs: number;

  constructor(options: SlackChannelOptions) {
    this.#url = options.webhookUrl;
    this.minSeverity = options.minSeverity ?? 'LOW';
    this.#timeoutMs = options.timeoutMs;
  }

  async send(notification: GroupNotification, signal: AbortSignal): Promise<void> {
    await postToChannel({
      channel: this.name,
      url: this.#url,
      headers: { 'content-type': 'application/json', 'user-agent': 'Tokenkeeper' },
      body: JSON.stringify(slackMessage(notification)),
      signal,
      timeoutMs: this.#timeoutMs,
      secrets: [urlSecretParts(this.#url)],
    });
  }
}

/** The Slack message of a notification. */
export function slackMessage(notification: GroupNotification): { text: string; blocks: unknown[] } {
  const mark = notification.kind === 'resolved' ? ':white_check_mark:' : SEVERITY_MARKS[notification.severity];
  const text = `${mark} ${kindWord(notification.kind)}: ${escape(notification.text)}`;
  const list = alertLines(notification, LISTED_ALERTS).map((line) => `• ${escape(line)}`).join('\n');
  return {
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: cut(notification.title, HEADER_MAX), emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text: cut(`*${kindWord(notification.kind)}* (${notification.severity}): ${escape(notification.text)}`, SECTION_MAX) } },
      ...(list ? [{ type: 'section', text: { type: 'mrkdwn', text: cut(list, SECTION_MAX) } }] : []),
      { type: 'context', elements: [{ type: 'mrkdwn', text: cut(`group \`${escape(notification.groupKey)}\` · ${notification.createdAt}`, SECTION_MAX) }] },
    ],
  };
}

/** Slack's mrkdwn escapes: `&`, `<` and `>` only. */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
