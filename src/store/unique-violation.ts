/**
 * Whether a failed INSERT/UPDATE broke a unique index: SQLite says "UNIQUE constraint failed"
 * (extended code SQLITE_CONSTRAINT_UNIQUE, 2067), PostgreSQL answers SQLSTATE 23505. Callers that
 * race on purpose (two imports of one account, two first callers minting a system connection) use
 * it to turn the loser's insert into a read of the winner's row.
 */
export function isUniqueViolation(error: unknown): boolean {
  const value = error as { code?: unknown; errcode?: unknown; message?: unknown } | null;
  if (!value || typeof value !== 'object') return false;
  if (value.code === '23505') return true;
  if (value.errcode === 2067 || value.errcode === 1555) return true;
  return typeof value.message === 'string' && /UNIQUE constraint failed/.test(value.message);
}
