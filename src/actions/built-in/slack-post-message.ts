import Type from 'typebox';
import { defineAction } from '../action-definition.ts';
import { ActionReadError } from '../action-read-error.ts';

/** Slack `error` values that say Slack itself failed or is throttling, not that it refused the request. */
const SLACK_SERVER_ERRORS = new Set(['fatal_error', 'internal_error', 'service_unavailable', 'request_timeout']);

/**
 * `slack.chat.post_message`: `POST https://slack.com/api/chat.postMessage` with a JSON body (Slack
 * asks for `Content-Type: application/json; charset=utf-8`). Slack answers HTTP 200 even when it
 * refuses, with `{"ok": false, "error": "channel_not_found"}`: that is `provider_rejected`
 * (`ratelimited` is `rate_limited`; Slack's own failures `provider_error`), never a success.
 */
export const slackPostMessage = defineAction({
  name: 'slack.chat.post_message',
  description: 'Posts a message to a Slack channel, private group or direct message as the connected app or user.',
  providers: ['slack'],
  input: Type.Object(
    {
      channel: Type.String({ minLength: 1, maxLength: 100, pattern: '^\\S+$', description: 'a channel id (C0123456789) or name, without spaces' }),
      text: Type.String({ minLength: 1, maxLength: 40_000, description: 'The message; with blocks, the fallback text for notifications.' }),
      blocks: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 50, description: 'Block Kit blocks; at most 50.' })),
      thread_ts: Type.Optional(Type.String({ maxLength: 32, pattern: '^\\d+\\.\\d+$', description: "a parent message's ts, such as 1234567890.123456" })),
    },
    { additionalProperties: false },
  ),
  build(input) {
    return {
      method: 'POST',
      path: '/chat.postMessage',
      body: {
        channel: input.channel,
        text: input.text,
        ...(input.blocks !== undefined ? { blocks: input.blocks } : {}),
        ...(input.thread_ts !== undefined ? { thread_ts: input.thread_ts } : {}),
      },
    };
  },
  read(response) {
    const body = (response.body ?? {}) as { ok?: unknown; error?: unknown; channel?: unknown; ts?: unknown };
    if (body.ok !== true) {
      const error = typeof body.error === 'string' ? body.error : 'unknown_error';
      const reason = error === 'ratelimited' ? 'rate_limited' : SLACK_SERVER_ERRORS.has(error) ? 'provider_error' : 'provider_rejected';
      throw new ActionReadError(reason, `Slack refused the message (${error}).`, { providerError: error });
    }
    return { channel: body.channel ?? null, ts: body.ts ?? null };
  },
});
