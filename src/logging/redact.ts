/**
 * What may not reach a log line, decided two ways, both narrow enough to keep what an operator
 * searches for (error `code`s, `token_endpoint`, `token_type`, `client_id`):
 *
 * - by field name: the exact names secrets travel under (RFC 6749 §4.1.2, §5.1 and §2.3.1,
 *   RFC 7636 §4.1, HTTP credentials and cookies, API keys), in any spelling
 *   (`access_token`, `accessToken`, `x-api-key`);
 * - by value shape, inside any string, message included: `Bearer`/`Basic` credentials
 *   (RFC 6750 §2.1, RFC 7617 §2), JWTs (RFC 7519 §3), Tokenkeeper API keys, secret query or
 *   fragment parameters of a URL (`?code=`, `#access_token=`), and connect-link tokens.
 *
 * Errors are reduced to name, code and message (an OAuth error's raw response body, which may
 * carry tokens, is never logged; the `error` string of RFC 6749 §5.2 is kept).
 */
const SECRET_NAMES = new Set(
  [
    'access_token',
    'refresh_token',
    'id_token',
    'token',
    'subject_token',
    'actor_token',
    'client_secret',
    'client_assertion',
    'assertion',
    'code_verifier',
    'secret',
    'password',
    'passphrase',
    'authorization',
    'proxy_authorization',
    'cookie',
    'set_cookie',
    'api_key',
    'x_api_key',
    'private_key',
    'credential',
    'credentials',
    'cron_secret',
    'metrics_token',
    'dashboard_password',
    'encryption_keys',
  ].map(normalizeName),
);

/** `accessToken`, `access-token` and `ACCESS_TOKEN` are the same name. */
function normalizeName(name: string): string {
  return name.replace(/[-_]/g, '').toLowerCase();
}

export function isSecretFieldName(name: string): boolean {
  return SECRET_NAMES.has(normalizeName(name));
}

const SECRET_PARAMETERS = 'code|state|access_token|refresh_token|id_token|token|client_secret|client_assertion|code_verifier|password|api_key|apikey|assertion';

const SHAPES: Array<[RegExp, string]> = [
  [/\b(Bearer|Basic)(\s+)[A-Za-z0-9\-._~+/]{8,}=*/gi, '$1$2[redacted]'],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, '[redacted]'],
  [/\btk_[A-Za-z0-9_-]{16,}/g, 'tk_[redacted]'],
  [new RegExp(`([?&#;](?:${SECRET_PARAMETERS})=)[^&#\\s"'<>]+`, 'gi'), '$1[redacted]'],
  [/(\/connect\/)[A-Za-z0-9_-]{16,}/g, '$1[redacted]'],
];

/** A quick test so the common string (an id, a route, an error code) costs one scan. */
const MAYBE_SECRET = /bearer|basic|eyJ|tk_|=|\/connect\//i;

export function redactText(text: string): string {
  if (!MAYBE_SECRET.test(text)) return text;
  let out = text;
  for (const [pattern, replacement] of SHAPES) out = out.replace(pattern, replacement);
  return out;
}

export function redactError(error: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: error.name, message: redactText(error.message) };
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) out.code = typeof code === 'string' ? redactText(code) : code;
  const oauthError = (error as { error?: unknown }).error;
  if (typeof oauthError === 'string') out.error = redactText(oauthError);
  return out;
}

const MAX_DEPTH = 6;

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return '[depth]';
  if (value instanceof Error) return redactError(value);
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  if (value instanceof Date) return value;
  if (value instanceof URL) return redactText(value.href);
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = redactField(key, item, depth + 1);
  return out;
}

/** Absent, null, true/false and numbers under a secret name say something without being one. */
export function redactField(key: string, value: unknown, depth = 0): unknown {
  if (isSecretFieldName(key) && value !== null && value !== undefined && typeof value !== 'boolean' && typeof value !== 'number') return '[redacted]';
  return redact(value, depth);
}
