import type { Provider } from 'oidc-provider';
import { TokenkeeperError } from '../errors.ts';
import { normalizeUsername } from './sandbox-account.ts';
import { SANDBOX_DEFAULT_CLIENT } from './sandbox-client.ts';

/** The most grants one call mints: enough for a benchmark, bounded for a development tool. */
export const MAX_MINTED_GRANTS = 10_000;

/** What a Tokenkeeper `sandbox` integration asks for, minus the claim scopes (the ID token carries them). */
const MINTED_SCOPE = 'openid offline_access api';

export interface MintGrantsOptions {
  /** How many accounts: `<accountPrefix>1` … `<accountPrefix><count>`, 1..MAX_MINTED_GRANTS. */
  count: number;
  /** Default `minted-`. */
  accountPrefix?: string;
  /** Default the development client (`tokenkeeper-dev`); it must be allowed the refresh grant. */
  clientId?: string;
}

export interface MintedGrant {
  accountId: string;
  refreshToken: string;
  scope: string;
}

/**
 * Grants as if `count` accounts had each signed in and pressed Allow, each with a refresh token:
 * what a load test or benchmark needs to refresh thousands of real grants without walking the
 * login pages thousands of times (`npm run bench -- --cluster` sweeps 10,000). The refresh tokens
 * are ordinary ones: they rotate on use with reuse detection, die with `revokeGrants`, and count
 * in the stats like any other. DEVELOPMENT ONLY, like every sandbox switch.
 */
export async function mintGrants(provider: Provider, options: MintGrantsOptions): Promise<MintedGrant[]> {
  const { count, accountPrefix, clientId } = checkOptions(options);
  const client = await provider.Client.find(clientId);
  if (!client) throw new TokenkeeperError('invalid_request', `No sandbox client "${clientId}".`);
  if (!client.grantTypeAllowed('refresh_token')) {
    throw new TokenkeeperError('invalid_request', `Sandbox client "${clientId}" is not allowed the refresh_token grant.`);
  }
  const authTime = Math.floor(Date.now() / 1000);
  const minted: MintedGrant[] = [];
  for (let n = 1; n <= count; n++) {
    const accountId = `${accountPrefix}${n}`;
    const grant = new provider.Grant({ accountId, clientId });
    grant.addOIDCScope(MINTED_SCOPE);
    const grantId = await grant.save();
    // The fields the authorization-code grant gives a first refresh token (oidc-provider's grant_common.js).
    const refreshToken = new provider.RefreshToken({
      accountId,
      client,
      grantId,
      gty: 'authorization_code',
      scope: MINTED_SCOPE,
      rotations: 0,
      authTime,
      expiresWithSession: false,
    });
    minted.push({ accountId, refreshToken: await refreshToken.save(), scope: MINTED_SCOPE });
  }
  return minted;
}

/**
 * Validates options from code or from `POST /_sandbox/grants` (`{"count", "account_prefix"}`),
 * loudly: a typo in a benchmark's setup should fail there, not as odd figures later.
 */
export function parseMintGrants(input: unknown): MintGrantsOptions {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new TokenkeeperError('invalid_request', 'Expected a JSON object with count and, optionally, account_prefix.');
  }
  const { count, account_prefix: accountPrefix, ...rest } = input as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new TokenkeeperError('invalid_request', `Unknown field "${unknown[0]}"; known: count, account_prefix.`);
  if (accountPrefix !== undefined && typeof accountPrefix !== 'string') {
    throw new TokenkeeperError('invalid_request', 'account_prefix must be a string.');
  }
  return checkOptions({ count: count as number, accountPrefix });
}

function checkOptions(options: MintGrantsOptions): Required<MintGrantsOptions> {
  const { count } = options;
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_MINTED_GRANTS) {
    throw new TokenkeeperError('invalid_request', `count must be an integer from 1 to ${MAX_MINTED_GRANTS}.`);
  }
  const accountPrefix = options.accountPrefix ?? 'minted-';
  // The longest account id must still be a username someone could type at the login page.
  if (accountPrefix !== '' && normalizeUsername(`${accountPrefix}${count}`) !== `${accountPrefix}${count}`) {
    throw new TokenkeeperError('invalid_request', 'account_prefix must make account ids of at most 64 characters, without control characters or surrounding spaces.');
  }
  return { count, accountPrefix, clientId: options.clientId ?? SANDBOX_DEFAULT_CLIENT.client_id };
}
