import { encodeTextBody } from './body-encoding.ts';
import { addressField, rfc5322Date, unstructuredField, type MailAddress } from './header-fields.ts';

/** What goes into one e-mail message. */
export interface MailMessage {
  to: readonly MailAddress[];
  cc: readonly MailAddress[];
  bcc: readonly MailAddress[];
  replyTo: readonly MailAddress[];
  subject: string;
  /** At least one of `text` and `html`. */
  text?: string;
  html?: string;
  date: Date;
  /** `<id@domain>`, RFC 5322 §3.6.4. */
  messageId: string;
  /**
   * The multipart boundary (RFC 2046 §5.1.1: 1-70 characters of `bchars`). Start it with `=_`:
   * that pair can occur in neither quoted-printable (where `=` is followed by two hex digits or a
   * line break) nor base64, so no body line can ever look like the boundary.
   */
  boundary: string;
}

/**
 * The message as RFC 5322 text with MIME (RFC 2045, 2046): CRLF line breaks, every line within
 * 76 characters, only ASCII. A `From` field is not written: Gmail sets the sending account's
 * address. `Bcc` is written because Gmail reads its recipients from it and removes it from what
 * the recipients get (RFC 5322 §3.6.3 allows either).
 *
 * With both `text` and `html` the body is `multipart/alternative` (RFC 2046 §5.1.4) with the
 * plain part first and the HTML part last, the one a capable reader prefers; with one of them,
 * that part alone.
 */
export function buildMimeMessage(message: MailMessage): string {
  const fields: string[] = [];
  if (message.to.length > 0) fields.push(addressField('To', message.to));
  if (message.cc.length > 0) fields.push(addressField('Cc', message.cc));
  if (message.bcc.length > 0) fields.push(addressField('Bcc', message.bcc));
  if (message.replyTo.length > 0) fields.push(addressField('Reply-To', message.replyTo));
  fields.push(unstructuredField('Subject', message.subject));
  fields.push(`Date: ${rfc5322Date(message.date)}`);
  fields.push(`Message-ID: ${message.messageId}`);
  fields.push('MIME-Version: 1.0');

  const parts: Array<{ type: string; content: string }> = [];
  if (message.text !== undefined) parts.push({ type: 'text/plain', content: message.text });
  if (message.html !== undefined) parts.push({ type: 'text/html', content: message.html });
  if (parts.length === 0) throw new TypeError('a message needs text or html');

  if (parts.length === 1) {
    const { fields: partFields, body } = partHeaders(parts[0]!.type, parts[0]!.content);
    return `${[...fields, ...partFields].join('\r\n')}\r\n\r\n${body}`;
  }
  const boundary = message.boundary;
  const body = parts.map((part) => {
    const { fields: partFields, body: partBody } = partHeaders(part.type, part.content);
    return `--${boundary}\r\n${partFields.join('\r\n')}\r\n\r\n${partBody}\r\n`;
  });
  fields.push(`Content-Type: multipart/alternative; boundary="${boundary}"`);
  // RFC 2046 §5.1.1: the CRLF before each delimiter belongs to the delimiter; the close
  // delimiter ends the body.
  return `${fields.join('\r\n')}\r\n\r\n${body.join('')}--${boundary}--\r\n`;
}

function partHeaders(type: string, content: string): { fields: string[]; body: string } {
  const encoded = encodeTextBody(content);
  return {
    fields: [`Content-Type: ${type}; charset=UTF-8`, `Content-Transfer-Encoding: ${encoded.transferEncoding}`],
    body: encoded.encoded,
  };
}
