/**
 * RFC 2047 encoded-words for header text that is not plain ASCII: `=?UTF-8?B?<base64>?=`.
 *
 * The B encoding (§4.1) is used rather than Q: it is allowed in every place an encoded-word may
 * stand (Q restricts its characters inside a phrase, §5 rule 3) and needs no escaping rules.
 */
const PREFIX = '=?UTF-8?B?';
const SUFFIX = '?=';

/**
 * §2 allows 75 characters per encoded-word and 76 per header line that holds one. Ours stay at 60,
 * so that any word, after the longest header name we write (`Reply-To:`) or after the space that
 * starts a folded line, keeps its line within 76 without the folding having to know.
 */
export const MAX_ENCODED_WORD_LENGTH = 60;

/** UTF-8 bytes per word: base64 of 36 bytes is 48 characters, + 12 for `=?UTF-8?B?` and `?=`. */
const MAX_BYTES = Math.floor((MAX_ENCODED_WORD_LENGTH - PREFIX.length - SUFFIX.length) / 4) * 3;

/**
 * `text` as a run of encoded-words, to be written separated by spaces (folding may turn a space
 * into CRLF SP). Each word holds whole characters, never part of a multi-byte one (§5 rule 3:
 * "each 'encoded-word' MUST represent an integral number of characters"), which is why the text is
 * cut by code point and not by byte. A reader drops the whitespace between adjacent encoded-words
 * (§6.2), so the words join back into `text` exactly, its own spaces included.
 */
export function encodeWords(text: string): string[] {
  const words: string[] = [];
  let chunk: Buffer[] = [];
  let size = 0;
  const flush = (): void => {
    if (size === 0) return;
    words.push(`${PREFIX}${Buffer.concat(chunk).toString('base64')}${SUFFIX}`);
    chunk = [];
    size = 0;
  };
  for (const character of text) {
    const bytes = Buffer.from(character, 'utf8');
    if (size + bytes.length > MAX_BYTES) flush();
    chunk.push(bytes);
    size += bytes.length;
  }
  flush();
  return words;
}

/**
 * Whether header text must be encoded: anything but printable ASCII, or a `=?` that a reader
 * would take for the start of an encoded-word (§6.1 leaves such text's meaning to the reader).
 */
export function needsEncoding(text: string): boolean {
  return !/^[\x20-\x7e]*$/.test(text) || text.includes('=?');
}
