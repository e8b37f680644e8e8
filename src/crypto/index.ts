/**
 * Encryption at rest: a key ring of AES-256-GCM keys, values sealed with their key id and bound
 * to their row by associated data, and hashing/comparison helpers for Tokenkeeper's own secrets.
 *
 * Associated data convention for every caller: `"<table>:<row id>:<column>"`,
 * e.g. `connections:con_x:tokens`, `integrations:int_x:client_secret`.
 */
export { KeyRing } from './key-ring.ts';
export { loadKeyRing, DEVELOPMENT_KEY_FILE, type LoadKeyRingOptions } from './load-key-ring.ts';
export { hashSecret, safeEqual } from './hash-secret.ts';
export { GENERATE_KEY_HINT } from './parse-key-spec.ts';
