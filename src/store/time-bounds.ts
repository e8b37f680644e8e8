import { TokenkeeperError } from '../errors.ts';

/**
 * The latest instant Tokenkeeper stores: 9999-12-31T23:59:59.999Z, the last one RFC 3339 §5.6
 * can write (`date-fullyear = 4DIGIT`), so every stored time renders as the API's timestamps do.
 *
 * Why a bound at all: times are stored as integer milliseconds, and a value past 2^53 (an
 * imported or provider-sent `expires_in: 1e13` is enough) is written without complaint but can
 * no longer be read back as a JavaScript number, nor formatted as a date; every listing that
 * contains the row then fails until the row is deleted. Far below that, a year-9999 expiry is
 * already "never" for any token.
 */
export const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** The earliest: the Unix epoch. Nothing Tokenkeeper records can predate it. */
export const MIN_TIME_MS = 0;

/** True for whole milliseconds since the epoch within [MIN_TIME_MS, MAX_TIME_MS]. */
export function isStorableTime(ms: number): boolean {
  return Number.isSafeInteger(ms) && ms >= MIN_TIME_MS && ms <= MAX_TIME_MS;
}

/**
 * The last line of defence, on every write path of a table: each column named `*_at` or
 * `*_until` holds epoch milliseconds, and a value outside the storable range is refused with an
 * internal error rather than written as a row that can never be read again. Input validation
 * (import, provider responses) is where out-of-range times should be caught and answered with a
 * 4xx; reaching this means a caller forgot to. Returns the row unchanged.
 */
export function checkStorableTimes<Row extends object>(table: string, row: Row): Row {
  for (const [column, value] of Object.entries(row)) {
    if (!column.endsWith('_at') && !column.endsWith('_until')) continue;
    if (value === null || value === undefined || (typeof value === 'number' && isStorableTime(value))) continue;
    // The client only sees "Internal error."; the log gets the cause, which names the column.
    throw new TokenkeeperError('internal_error', undefined, {
      cause: new RangeError(`Refusing to write ${table}.${column} = ${String(value)}: not whole milliseconds between 1970-01-01 and 9999-12-31.`),
    });
  }
  return row;
}
