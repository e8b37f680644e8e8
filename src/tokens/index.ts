export { TokenService, grantedLifetimeMs, sweepThresholdMs, type TokenServiceOptions, type TokenResult, type GetTokenOptions } from './token-service.ts';
export { ConnectionService, connectionToJson, isValidOwnerId, type ConnectionServiceOptions } from './connection-service.ts';
export { ConnectFlow, CallbackError, type CallbackOutcome, type ConnectFlowOptions } from './connect-flow.ts';
export { importConnection } from './import-connection.ts';
export { subscribeEventLog } from './event-log.ts';
export { CircuitBreaker } from './circuit-breaker.ts';
export { RateLimiter } from './rate-limiter.ts';
export { fullJitterDelay, cooldownDelay } from './backoff.ts';
export { sleep } from './backoff.ts';
