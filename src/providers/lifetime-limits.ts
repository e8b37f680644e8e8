/**
 * The longest lifetime Tokenkeeper believes, in seconds: ten years. The longest-lived tokens the
 * catalog documents are LinkedIn's (60-day access tokens, refresh tokens for 365 days) and
 * Google's refresh tokens (until 6 months unused); anything beyond ten years is a unit mistake
 * (milliseconds sent as seconds) or garbage, and a value like `expires_in: 1e13` would put
 * `expires_at` past 2^53 ms, where it can no longer be stored and read back exactly. One bound
 * for every lifetime on the way in: integration settings, provider responses, imports.
 */
export const MAX_LIFETIME_SECONDS = 315_360_000;
