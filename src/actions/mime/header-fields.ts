import { encodeWords, needsEncoding } from './encoded-word.ts';
import { foldHeader } from './header-folding.ts';

/** A mailbox: an ASCII address (the input schema allows no other) and an optional display name. */
export interface MailAddress {
  email: string;
  name?: string | null;
}

/** RFC 5322 §3.2.3 `atext`: a display name made only of these, single-spaced, needs no quoting. */
const ATOM_PHRASE = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?: [A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/;

/** An unstructured ASCII word longer than this is encoded instead, so that every line can hold it. */
const MAX_PLAIN_WORD = 70;

/**
 * An address list field (`To`, `Cc`, `Bcc`, `Reply-To`; RFC 5322 §3.4 and §3.6.3), folded between
 * the words of display names and between mailboxes.
 */
export function addressField(name: string, addresses: readonly MailAddress[]): string {
  const tokens: string[] = [];
  addresses.forEach((address, index) => {
    const mailbox = mailboxTokens(address);
    if (index < addresses.length - 1) mailbox[mailbox.length - 1] += ',';
    tokens.push(...mailbox);
  });
  return foldHeader(name, tokens);
}

/**
 * A mailbox as tokens, each starting with a space: `alice@example.com`, or a display name then
 * `<alice@example.com>` (§3.4 `name-addr`). The name is written as atoms when it is only those, as
 * a quoted-string when it is other printable ASCII (`"Smith, Jane"`, with `\` and `"` escaped,
 * §3.2.4), and as encoded-words otherwise (RFC 2047 §5 rule 3: an encoded-word may stand for a
 * `word` of a `phrase`).
 */
function mailboxTokens(address: MailAddress): string[] {
  const displayName = address.name ?? '';
  if (displayName.trim() === '') return [` ${address.email}`];
  const words = displayName.split(' ');
  let phrase: string[];
  if (needsEncoding(displayName)) phrase = encodeWords(displayName).map((word) => ` ${word}`);
  else if (ATOM_PHRASE.test(displayName) && words.every((word) => word.length <= MAX_PLAIN_WORD)) phrase = words.map((word) => ` ${word}`);
  else if (displayName.length <= MAX_PLAIN_WORD - 2) phrase = [` "${displayName.replace(/[\\"]/g, '\\$&')}"`];
  else phrase = encodeWords(displayName).map((word) => ` ${word}`);
  return [...phrase, ` <${address.email}>`];
}

/**
 * An unstructured field (`Subject`, RFC 5322 §3.6.5): printable ASCII as it is, folded at its
 * spaces; anything else (non-ASCII, a `=?`, a word too long to fold) as encoded-words.
 */
export function unstructuredField(name: string, text: string): string {
  if (text === '') return `${name}: `;
  const words = text.match(/ *[^ ]+| +$/g) ?? [];
  if (!needsEncoding(text) && words.every((word) => word.length <= MAX_PLAIN_WORD)) {
    return foldHeader(name, [` ${words[0]!}`, ...words.slice(1)]);
  }
  return foldHeader(name, encodeWords(text).map((word) => ` ${word}`));
}

/** RFC 5322 §3.3 `date-time` in UTC: `Thu, 01 Jan 2026 12:00:00 +0000`. */
export function rfc5322Date(date: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (value: number): string => String(value).padStart(2, '0');
  return (
    `${days[date.getUTCDay()]!}, ${two(date.getUTCDate())} ${months[date.getUTCMonth()]!} ${date.getUTCFullYear()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`
  );
}
