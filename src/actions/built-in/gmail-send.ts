import { defineAction, type ActionBuildContext } from '../action-definition.ts';
import { buildMimeMessage } from '../mime/index.ts';
import { EmailInput, emailInputProblems, mailAddresses } from './email-input.ts';

/**
 * `google.gmail.send`: `POST /gmail/v1/users/me/messages/send` with `{"raw": …}`, the whole
 * RFC 5322 message in base64url without padding (Gmail API, users.messages.send: "The entire
 * email message in an RFC 2822 formatted and base64url encoded string"). Gmail sends it from the
 * connected account and answers with the new message's id, thread id and labels.
 */
export const gmailSend = defineAction({
  name: 'google.gmail.send',
  description: 'Sends an e-mail from the connected Gmail account (plain text, HTML, or both as multipart/alternative).',
  providers: ['google'],
  input: EmailInput,
  inputProblems: emailInputProblems,
  build(input, context) {
    const message = buildMimeMessage({
      to: mailAddresses(input.to),
      cc: mailAddresses(input.cc),
      bcc: mailAddresses(input.bcc),
      replyTo: mailAddresses(input.reply_to),
      subject: input.subject,
      ...(input.text !== undefined ? { text: input.text } : {}),
      ...(input.html !== undefined ? { html: input.html } : {}),
      date: context.now,
      messageId: `<${context.randomId()}@${messageIdDomain(context)}>`,
      boundary: `=_tk_${context.randomId()}`,
    });
    return {
      method: 'POST',
      path: '/gmail/v1/users/me/messages/send',
      body: { raw: Buffer.from(message, 'utf8').toString('base64url') },
    };
  },
  read(response) {
    const body = (response.body ?? {}) as { id?: unknown; threadId?: unknown; labelIds?: unknown };
    return { id: body.id ?? null, thread_id: body.threadId ?? null, label_ids: Array.isArray(body.labelIds) ? body.labelIds : [] };
  },
});

/**
 * The right side of the Message-ID (RFC 5322 §3.6.4 says it SHOULD be a domain): the connected
 * account's domain when its label is an address, else a name that can be no one's real domain
 * (`.invalid`, RFC 2606 §2), so the id cannot collide with one that domain issues.
 */
function messageIdDomain(context: ActionBuildContext): string {
  const domain = /@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)$/.exec(context.account?.label ?? '')?.[1];
  return domain ?? 'tokenkeeper.invalid';
}
