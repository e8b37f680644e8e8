import * as oauth from 'oauth4webapi';

/**
 * RFC 7636: a fresh high-entropy verifier (§4.1, 43 base64url characters from 32 random bytes)
 * and its S256 challenge (§4.2). `plain` is never used: RFC 9700 §2.1.1 says S256.
 */
export async function createPkce(): Promise<{ verifier: string; challenge: string; method: 'S256' }> {
  const verifier = oauth.generateRandomCodeVerifier();
  const challenge = await oauth.calculatePKCECodeChallenge(verifier);
  return { verifier, challenge, method: 'S256' };
}
