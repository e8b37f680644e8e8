/**
 * SMS text in the GSM 03.38 7-bit alphabet (3GPP TS 23.038 §6.2.1), the only encoding in which
 * one segment holds 160 characters: a single character outside it switches the whole message to
 * UCS-2, where a segment holds 70. Alert texts are made to fit: typographic punctuation becomes
 * its ASCII twin, accented letters lose the accent GSM lacks, anything else becomes `?`.
 */

const BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
/** Characters of the extension table: each costs two septets (escape + code). */
const EXTENDED = '^{}\\[~]|€\f';

const BASIC_SET = new Set(BASIC);
const EXTENDED_SET = new Set(EXTENDED);

/** One segment of a single-part GSM-7 SMS. */
export const GSM7_SEGMENT = 160;

const REPLACEMENTS: Record<string, string> = {
  '\u2018': "'",
  '\u2019': "'",
  '\u201A': "'",
  '\u2032': "'",
  '\u201C': '"',
  '\u201D': '"',
  '\u201E': '"',
  '\u2033': '"',
  '\u2013': '-',
  '\u2014': '-',
  '\u2212': '-',
  '\u2026': '...',
  '\u00A0': ' ',
  '\u2009': ' ',
  '\t': ' ',
  '\u2022': '*',
  '\u00B7': '.',
  '\u2192': '->',
  '`': "'",
  '\u00E7': 'c',
};

/** Whether the text can be sent as GSM-7 as it is. */
export function isGsm7(text: string): boolean {
  for (const char of text) if (!BASIC_SET.has(char) && !EXTENDED_SET.has(char)) return false;
  return true;
}

/** Septets the text takes in GSM-7 (extension characters count two). Assumes `isGsm7(text)`. */
export function gsm7Length(text: string): number {
  let length = 0;
  for (const char of text) length += EXTENDED_SET.has(char) ? 2 : 1;
  return length;
}

/** The text transliterated into the GSM-7 alphabet. */
export function toGsm7(text: string): string {
  let out = '';
  for (const char of text) {
    if (BASIC_SET.has(char) || EXTENDED_SET.has(char)) {
      out += char;
      continue;
    }
    const replacement = REPLACEMENTS[char];
    if (replacement !== undefined) {
      out += replacement;
      continue;
    }
    const base = char.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
    out += base.length > 0 && [...base].every((part) => BASIC_SET.has(part)) ? base : '?';
  }
  return out;
}

/** `text` in GSM-7, cut (ending in `...`) to at most `max` septets. */
export function fitGsm7(text: string, max = GSM7_SEGMENT): string {
  const gsm = toGsm7(text);
  if (gsm7Length(gsm) <= max) return gsm;
  let out = '';
  let length = 0;
  for (const char of gsm) {
    const cost = EXTENDED_SET.has(char) ? 2 : 1;
    if (length + cost > max - 3) break;
    out += char;
    length += cost;
  }
  return `${out.trimEnd()}...`;
}
