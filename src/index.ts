/**
 * Tokenkeeper as a library: embed the service in your own process, or start the HTTP server.
 */
export { createTokenkeeper, type Tokenkeeper, type TokenkeeperOptions } from './service.ts';
export { startServer, type RunningServer, type StartServerOptions } from './server.ts';
export { loadConfig, ConfigError, type Config } from './config/index.ts';
export { TokenkeeperError, errorRegistry, isTokenkeeperError, type ErrorCode } from './errors.ts';
export { ManualClock, systemClock, type Clock } from './clock.ts';
export { createLogger, type Logger } from './logger.ts';
export type { EventMap, EventName } from './events.ts';
export type { ProxyService } from './proxy/index.ts';
export { ActionReadError, defineAction, type ActionBuildContext, type ActionDefinition, type ActionRequest, type ActionResponse } from './actions/index.ts';
// The HTTP client is also `tokenkeeper/client`, which loads nothing but itself.
export { createClient, TokenkeeperClient, TokenkeeperApiError, type ClientOptions, type ApiErrorCode } from './client/index.ts';
