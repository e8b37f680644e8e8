import { isSqliteBusy } from './sqlite-dialect.ts';

/**
 * Storage trouble that is not the caller's fault and may pass: the database closed under us, a
 * write lock held by another process past the busy wait (SQLITE_BUSY / SQLITE_LOCKED), a
 * PostgreSQL connection failure, a statement cancelled by `statement_timeout` (57014) or a lock
 * wait (55P03), a deadlock or serialization failure (40P01, 40001). Requests get a 503 to retry;
 * a refresh commit retries itself.
 */
export function isStorageUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code } = error as Error & { code?: unknown };
  if (code === 'ERR_SQLITE_ERROR' && isSqliteBusy(error)) return true;
  if (code === 'ERR_INVALID_STATE' && /database is not open/i.test(error.message)) return true;
  if (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', '57P01', '08006', '08001', '08003', '57P03', '57014', '55P03', '40P01', '40001'].includes(code)) return true;
  return /driver has already been destroyed|Connection terminated/i.test(error.message);
}
