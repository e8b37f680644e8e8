import Type, { type Static } from 'typebox';
import type { MailAddress } from '../mime/index.ts';

/** Text that goes into a header: no line break or other control character can reach one. */
const HEADER_TEXT = '^[^\\u0000-\\u001f\\u007f]*$';

/**
 * An e-mail address as the ajv-formats `email` format checks it: ASCII only, so it can be written
 * into a header as it is (no quote, angle bracket, space or line break can be in it). RFC 5321
 * §4.5.3.1.3 limits a path to 256 octets, so an address to 254.
 */
const EmailAddress = Type.String({ format: 'email', maxLength: 254 });

const Recipient = Type.Union(
  [
    EmailAddress,
    Type.Object(
      {
        email: EmailAddress,
        name: Type.Optional(Type.String({ maxLength: 200, pattern: HEADER_TEXT, description: 'a display name without line breaks or control characters' })),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'an e-mail address (alice@example.com) or {"email": "alice@example.com", "name": "Alice"}' },
);

const RecipientList = (description: string) => Type.Array(Recipient, { maxItems: 100, description });

/** The input both e-mail actions take (`google.gmail.send`, `microsoft.mail.send`). */
export const emailProperties = {
  to: Type.Optional(RecipientList('Recipients: e-mail addresses or {email, name}; at most 100.')),
  cc: Type.Optional(RecipientList('Copy recipients; at most 100.')),
  bcc: Type.Optional(RecipientList('Blind copy recipients; at most 100.')),
  reply_to: Type.Optional(Type.Array(Recipient, { maxItems: 10, description: 'Where replies go, when not to the sender; at most 10.' })),
  subject: Type.String({ maxLength: 998, pattern: HEADER_TEXT, description: 'text of at most 998 characters without line breaks or control characters' }),
  text: Type.Optional(Type.String({ maxLength: 1_000_000, description: 'The plain-text body.' })),
  html: Type.Optional(Type.String({ maxLength: 1_000_000, description: 'The HTML body.' })),
};

export const EmailInput = Type.Object(emailProperties, { additionalProperties: false });
export type EmailInput = Static<typeof EmailInput>;
type Recipient = Static<typeof Recipient>;

/**
 * What the schema cannot say: some recipient in `to`, `cc` or `bcc`, and a body. Reads the input
 * defensively: it runs even when the schema found problems.
 */
export function emailInputProblems(input: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const recipients = ['to', 'cc', 'bcc'].reduce((count, field) => count + (Array.isArray(input[field]) ? (input[field] as unknown[]).length : 0), 0);
  if (recipients === 0) problems.push('to, cc or bcc must list at least one recipient');
  if (input.text === undefined && input.html === undefined) problems.push('text or html is required');
  return problems;
}

export function mailAddresses(recipients: readonly Recipient[] | undefined): MailAddress[] {
  return (recipients ?? []).map((recipient) => (typeof recipient === 'string' ? { email: recipient } : { email: recipient.email, name: recipient.name ?? null }));
}
