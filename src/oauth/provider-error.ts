/** Which provider endpoint answered. */
export type ProviderEndpointKind = 'token' | 'revocation' | 'userinfo' | 'discovery';

/**
 * The provider answered with an OAuth error (RFC 6749 §5.2 shape, possibly after a quirk turned
 * GitHub's or Slack's HTTP 200 into one). Like oauth4webapi's ResponseBodyError, the error is data
 * (`error`, `error_description`, `status`) and the raw body is non-enumerable, so serializing or
 * logging the error never carries the provider's whole answer. The message holds only the code.
 */
export class OAuthProviderError extends Error {
  readonly error: string;
  readonly error_description: string | undefined;
  /** Google's refinement of `invalid_grant` (e.g. `invalid_rapt`). */
  readonly error_subtype: string | undefined;
  readonly status: number;
  /** From `Retry-After` (RFC 9110 §10.2.3), when the provider sent one. */
  readonly retryAfterMs: number | undefined;
  readonly endpoint: ProviderEndpointKind;
  declare readonly body: Record<string, unknown>;

  constructor(options: { status: number; body: Record<string, unknown>; endpoint: ProviderEndpointKind; retryAfterMs?: number }) {
    const error = typeof options.body.error === 'string' ? options.body.error : 'unknown_error';
    super(`The provider's ${options.endpoint} endpoint answered "${error.slice(0, 100)}" (HTTP ${options.status}).`);
    this.name = 'OAuthProviderError';
    this.error = error;
    this.error_description = typeof options.body.error_description === 'string' ? options.body.error_description : undefined;
    this.error_subtype = typeof options.body.error_subtype === 'string' ? options.body.error_subtype : undefined;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.endpoint = options.endpoint;
    Object.defineProperty(this, 'body', { value: options.body, enumerable: false, writable: false });
  }
}
