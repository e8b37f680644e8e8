/**
 * Header lines SHOULD be at most 78 characters and MUST be at most 998 (RFC 5322 §2.1.1); a line
 * that holds an encoded-word at most 76 (RFC 2047 §2). We fold every header at 76.
 */
export const MAX_HEADER_LINE = 76;

/**
 * `Name:` followed by `tokens`, folded (RFC 5322 §2.2.3: CRLF inserted before a space, which
 * unfolding removes again) wherever the next token would pass MAX_HEADER_LINE. A token that starts
 * with a space may begin a continuation line; one that does not (text stuck to what precedes it)
 * never does. A continuation line never consists of whitespace alone (§3.2.2). A single token
 * longer than the limit keeps a line of its own: only an e-mail address (at most 254 characters)
 * can be one, well within 998.
 */
export function foldHeader(name: string, tokens: readonly string[]): string {
  const lines: string[] = [];
  let line = `${name}:`;
  let lineHasContent = false;
  for (const token of tokens) {
    const mayFold = lineHasContent && /^[ \t]/.test(token) && token.trim() !== '';
    if (mayFold && line.length + token.length > MAX_HEADER_LINE) {
      lines.push(line);
      line = token;
    } else {
      line += token;
    }
    if (token.trim() !== '') lineHasContent = true;
  }
  lines.push(line);
  return lines.join('\r\n');
}
