/**
 * Bounds on what a provider may send. A value outside them is a provider fault — transient
 * `invalid_provider_response`, retried with the usual backoff — never a value silently clamped
 * and stored: a clamped lifetime would still be wrong, just less visibly. The upper bound on
 * lifetimes is `MAX_LIFETIME_SECONDS` (providers/), shared with integration settings and imports.
 */

/**
 * The shortest access-token lifetime accepted from a provider, in seconds. `expires_in: 0` (or
 * 1) would make every request refresh: the effective refresh buffer is half the lifetime the
 * provider granted, so a token of L seconds is refreshed at most every L/2 seconds. Real
 * providers grant minutes at least (Okta 5 min, Microsoft Entra 10 min, Keycloak 1 min, the
 * sandbox 120 s by default); 5 s is also the shortest lifetime Tokenkeeper lets its own sandbox
 * issue (`TOKENKEEPER_SANDBOX_TOKEN_TTL`), so a demo with very short tokens still works.
 */
export const MIN_TOKEN_LIFETIME_SECONDS = 5;

/**
 * The most bytes read from any provider answer (token, revocation, userinfo, discovery). The
 * largest legitimate ones — a token response with an ID token, a discovery document with long
 * `claims_supported` lists — are a few KiB; 1 MiB leaves ~100× room, and a misbehaving endpoint
 * streaming hundreds of MB is cut off there instead of being buffered whole in memory.
 */
export const MAX_PROVIDER_RESPONSE_BYTES = 1024 * 1024;

/**
 * The largest access, refresh or ID token accepted, in UTF-8 bytes. Microsoft's JWTs run 2–4 KB,
 * and up to ~8 KB with many group claims (Entra switches to an overage claim past 200 groups);
 * opaque tokens are far shorter. An access token travels in an `Authorization` header, and
 * common servers refuse request headers over 8–16 KiB (Node's own limit is 16 KiB for all of
 * them), so a larger token could not be used anyway — and it would be stored, encrypted, on
 * every refresh.
 */
export const MAX_TOKEN_BYTES = 16 * 1024;
