import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * A fresh RS256 signing key per start, for ID tokens (OpenID Connect Core §3.1.3.7 makes RS256
 * the default). Generated rather than fixed so that nothing signed by one sandbox run verifies
 * in another, and so oidc-provider does not fall back to its published development keys.
 */
export async function generateSigningKeys(): Promise<{ keys: Record<string, unknown>[] }> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
  return { keys: [{ ...jwk, alg: 'RS256', use: 'sig' }] };
}
