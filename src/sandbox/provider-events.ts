import type { Provider } from 'oidc-provider';
import type { Logger } from '../logger.ts';

interface ProviderContext {
  oidc?: { client?: { clientId?: string }; params?: { grant_type?: unknown } };
}

interface ProviderError {
  error?: string;
  error_detail?: string;
  message?: string;
}

const REFUSAL_EVENTS = [
  'authorization.error',
  'revocation.error',
  'introspection.error',
  'userinfo.error',
  'end_session.error',
  'discovery.error',
  'jwks.error',
  'pushed_authorization_request.error',
];

/**
 * Routes oidc-provider's events to the sandbox's logger: protocol refusals at debug, reuse
 * detection at info (the one refusal a developer watching the sandbox wants to see), real
 * failures at error. Only client ids, grant types and error codes are logged, never a token.
 * Listening to Koa's `error` event also stops Koa from printing errors to stderr itself.
 */
export function watchProviderEvents(provider: Provider, logger: Logger): void {
  const clientIdOf = (ctx: ProviderContext): string | undefined => ctx.oidc?.client?.clientId;
  const grantTypeOf = (ctx: ProviderContext): string | undefined =>
    typeof ctx.oidc?.params?.grant_type === 'string' ? ctx.oidc.params.grant_type : undefined;

  provider.on('grant.success', (ctx: ProviderContext) => {
    logger.debug('sandbox token issued', { client_id: clientIdOf(ctx), grant_type: grantTypeOf(ctx) });
  });
  provider.on('grant.error', (ctx: ProviderContext, error: ProviderError) => {
    const fields = { client_id: clientIdOf(ctx), grant_type: grantTypeOf(ctx), error: error.error, detail: error.error_detail };
    if (error.error_detail === 'refresh token already used') {
      logger.info('sandbox refresh token reuse detected; grant revoked (RFC 9700 §4.14.2)', fields);
    } else {
      logger.debug('sandbox token request refused', fields);
    }
  });
  for (const event of REFUSAL_EVENTS) {
    provider.on(event, (ctx: ProviderContext, error: ProviderError) => {
      logger.debug('sandbox request refused', { event, client_id: clientIdOf(ctx), error: error.error, detail: error.error_detail });
    });
  }
  provider.on('grant.revoked', (ctx: ProviderContext) => {
    logger.debug('sandbox grant revoked', { client_id: clientIdOf(ctx) });
  });
  provider.on('server_error', (_ctx: unknown, error: Error) => {
    logger.error('sandbox provider error', { error });
  });
  provider.on('error', (error: Error) => {
    logger.error('sandbox provider error', { error });
  });
}
