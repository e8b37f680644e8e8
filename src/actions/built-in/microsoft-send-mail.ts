import Type from 'typebox';
import { defineAction } from '../action-definition.ts';
import type { MailAddress } from '../mime/index.ts';
import { emailInputProblems, emailProperties, mailAddresses } from './email-input.ts';

/**
 * `microsoft.mail.send`: Microsoft Graph `POST /v1.0/me/sendMail` with the message as JSON
 * (user: sendMail). Graph answers `202 Accepted` with no body. A Graph message has one body, Text
 * or HTML: given both, the HTML one is sent. `saveToSentItems` is written only when false, as
 * Graph's reference asks ("Specify it only if the parameter is false; default is true").
 */
export const microsoftSendMail = defineAction({
  name: 'microsoft.mail.send',
  description: 'Sends an e-mail from the connected Microsoft 365 or Outlook.com mailbox (HTML when html is given, else text).',
  providers: ['microsoft'],
  input: Type.Object(
    {
      ...emailProperties,
      save_to_sent_items: Type.Optional(Type.Boolean({ description: 'Keep a copy in Sent Items; default true.' })),
    },
    { additionalProperties: false },
  ),
  inputProblems: emailInputProblems,
  build(input) {
    const message: Record<string, unknown> = {
      subject: input.subject,
      body: input.html !== undefined ? { contentType: 'HTML', content: input.html } : { contentType: 'Text', content: input.text ?? '' },
    };
    const lists = [
      ['toRecipients', input.to],
      ['ccRecipients', input.cc],
      ['bccRecipients', input.bcc],
      ['replyTo', input.reply_to],
    ] as const;
    for (const [field, recipients] of lists) {
      if (recipients !== undefined && recipients.length > 0) message[field] = mailAddresses(recipients).map(graphRecipient);
    }
    return {
      method: 'POST',
      path: '/v1.0/me/sendMail',
      body: input.save_to_sent_items === false ? { message, saveToSentItems: false } : { message },
    };
  },
  read() {
    return { accepted: true };
  },
});

/** Graph's `recipient` resource: `{"emailAddress": {"address", "name"?}}`. */
function graphRecipient(address: MailAddress): { emailAddress: { address: string; name?: string } } {
  return { emailAddress: address.name ? { address: address.email, name: address.name } : { address: address.email } };
}
