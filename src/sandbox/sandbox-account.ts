import type { Account, ClaimsResult } from 'oidc-provider';

/**
 * Sandbox accounts exist by being named: whatever username someone types at the login page
 * becomes the account id (`sub`), with a predictable email and name so tests can assert them.
 * `.test` is reserved for testing (RFC 2606 §2), so these addresses can never reach anyone.
 */
export function accountClaims(accountId: string): ClaimsResult {
  return {
    sub: accountId,
    email: `${accountId}@sandbox.test`,
    email_verified: true,
    name: accountId,
    preferred_username: accountId,
  };
}

export function findAccount(_ctx: unknown, accountId: string): Account {
  return { accountId, claims: () => accountClaims(accountId) };
}

/** Usernames are free-form but bounded: 1..64 characters, no control characters. */
export function normalizeUsername(input: unknown): string | undefined {
  if (typeof input !== 'string') return undefined;
  const username = input.trim();
  if (username.length === 0 || username.length > 64) return undefined;
  if (/[\u0000-\u001f\u007f]/u.test(username)) return undefined;
  return username;
}
