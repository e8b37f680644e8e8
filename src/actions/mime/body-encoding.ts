/** A text body ready for a MIME part: its Content-Transfer-Encoding and the encoded text. */
export interface EncodedBody {
  transferEncoding: 'quoted-printable' | 'base64';
  encoded: string;
}

/** RFC 2045 §6.7 rule 5 and §6.8: encoded lines are at most 76 characters. */
const MAX_ENCODED_LINE = 76;

/**
 * Text in MIME's canonical form: every line break CRLF (RFC 2046 §4.1.1; RFC 5322 §2.3 allows CR
 * and LF only together), whatever the caller used.
 */
export function toCrlf(text: string): string {
  return text.replace(/\r\n|\r|\n/g, '\r\n');
}

/**
 * A text body as UTF-8, quoted-printable when it is mostly ASCII (it stays readable) and base64
 * when more than a quarter of its bytes would need escaping (quoted-printable triples each such
 * byte; base64 grows everything by a third).
 */
export function encodeTextBody(text: string): EncodedBody {
  const bytes = Buffer.from(toCrlf(text), 'utf8');
  let escaped = 0;
  for (const byte of bytes) if (!isLiteral(byte) && byte !== 0x0d && byte !== 0x0a && byte !== 0x20 && byte !== 0x09) escaped += 1;
  if (escaped * 4 > bytes.length) return { transferEncoding: 'base64', encoded: base64Lines(bytes) };
  return { transferEncoding: 'quoted-printable', encoded: quotedPrintable(bytes) };
}

/** RFC 2045 §6.8: base64 in lines of 76 characters. */
export function base64Lines(bytes: Buffer): string {
  const base64 = bytes.toString('base64');
  const lines: string[] = [];
  for (let start = 0; start < base64.length; start += MAX_ENCODED_LINE) lines.push(base64.slice(start, start + MAX_ENCODED_LINE));
  return lines.join('\r\n');
}

/** RFC 2045 §6.7 rule 2: printable ASCII other than `=` stands for itself. */
function isLiteral(byte: number): boolean {
  return byte >= 33 && byte <= 126 && byte !== 61;
}

function escape(byte: number): string {
  return `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
}

/**
 * RFC 2045 §6.7 quoted-printable of CRLF text: line breaks stay CRLF (rule 4); `=`, controls and
 * 8-bit bytes become `=XX` (rules 1, 2); a space or tab ending a line is escaped (rule 3: trailing
 * whitespace may be dropped in transport); lines longer than 76 characters are cut with a soft
 * line break `=` (rule 5), never inside an `=XX`. A `.` or `From ` that opens a line is escaped
 * too, as RFC 2049 §3 (8) recommends, so that no SMTP or mbox step along the way can alter it.
 */
export function quotedPrintable(bytes: Buffer): string {
  const text = bytes.toString('latin1');
  return text
    .split('\r\n')
    .map((line) => quotedPrintableLine(Buffer.from(line, 'latin1')))
    .join('\r\n');
}

function quotedPrintableLine(line: Buffer): string {
  const units: string[] = [];
  line.forEach((byte, index) => {
    const last = index === line.length - 1;
    const opensLine = index === 0 && (byte === 0x2e || line.subarray(0, 5).toString('latin1') === 'From ');
    if (opensLine) units.push(escape(byte));
    else if (isLiteral(byte) || ((byte === 0x20 || byte === 0x09) && !last)) units.push(String.fromCharCode(byte));
    else units.push(escape(byte));
  });
  const pieces: string[] = [];
  let current = '';
  for (const unit of units) {
    // Leave room for the soft line break's `=`.
    if (current.length + unit.length > MAX_ENCODED_LINE - 1) {
      pieces.push(`${current}=`);
      current = '';
    }
    // A continuation line is a line in transport too.
    current += current === '' && unit === '.' ? '=2E' : unit;
  }
  pieces.push(current);
  return pieces.join('\r\n');
}
