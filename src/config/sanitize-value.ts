const QUOTES = new Set(['"', "'"]);
/** Whitespace plus the zero-width characters that ride along with text copied from web pages. */
const EDGE_SPACE = /^[\s\u200B-\u200D\u2060\uFEFF]+|[\s\u200B-\u200D\u2060\uFEFF]+$/g;

/**
 * Cleans a value the way an operator meant it. Copy-paste into dashboards, `.env` files and
 * secret managers routinely adds wrapping that is not part of the value: surrounding whitespace
 * (zero-width characters included), a trailing newline (`echo secret > file`), quotes kept
 * literally by a platform that does not strip them (`"'abc'\n"` → `abc`), or one stray quote
 * left at one end. A stray quote in a client secret or an encryption key is a real production
 * outage, and no generated secret starts or ends with a quote, so a lone one is removed too.
 * Quotes inside a value are kept. Repeats until nothing changes.
 *
 * An empty result means "unset".
 */
export function sanitizeValue(raw: string): string {
  let value = raw;
  for (;;) {
    const before = value;
    value = value.replace(EDGE_SPACE, '');
    if (value.length >= 2 && QUOTES.has(value[0]!) && value[value.length - 1] === value[0]) {
      value = value.slice(1, -1);
    } else if (value.length > 0 && QUOTES.has(value[0]!)) {
      value = value.slice(1);
    } else if (value.length > 0 && QUOTES.has(value[value.length - 1]!)) {
      value = value.slice(0, -1);
    }
    if (value === before) return value;
  }
}
