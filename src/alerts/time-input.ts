import { isStorableTime } from '../store/index.ts';

/**
 * Times as the alert API and CLI accept them: an ISO 8601 date-time with a time zone
 * (`2030-01-31T12:00:00Z`, the form every answer uses) or Unix epoch seconds (`1895916000`, the
 * form of `webhook-timestamp`). Milliseconds are refused rather than read as a date 50,000 years
 * away. Returns epoch ms, or a problem in words.
 */
export function parseInstant(text: string): { ms: number } | { problem: string } {
  const value = text.trim();
  if (/^\d{1,16}$/.test(value)) {
    const seconds = Number(value);
    if (seconds > 99_999_999_999) return { problem: `${value} looks like milliseconds; give epoch seconds (${Math.floor(seconds / 1000)}) or an ISO 8601 date-time` };
    return { ms: seconds * 1000 };
  }
  // A zone is required: a local time would mean something else on every machine.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i.test(value)) {
    return { problem: `${JSON.stringify(value.slice(0, 40))} is not an ISO 8601 date-time with a time zone (2030-01-31T12:00:00Z) or epoch seconds` };
  }
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) return { problem: `${JSON.stringify(value.slice(0, 40))} is not a valid date-time` };
  if (!isStorableTime(ms)) return { problem: `${value} is out of range (1970-9999)` };
  return { ms };
}

const DURATION_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90` (seconds), `30s`, `15m`, `2h`, `1d`, `1w`, or combined `1h30m`; returns ms, or null when it is not a duration. */
export function parseDuration(text: string): number | null {
  const value = text.trim().toLowerCase();
  if (/^\d+$/.test(value)) return Number(value) * 1_000;
  if (!/^(\d+[smhdw])+$/.test(value)) return null;
  let ms = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+)([smhdw])/g)) ms += Number(amount) * DURATION_UNITS[unit!]!;
  return Number.isSafeInteger(ms) ? ms : null;
}
