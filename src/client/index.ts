/**
 * `tokenkeeper/client`: a typed client for Tokenkeeper's HTTP API, for applications that talk to
 * a running Tokenkeeper rather than embed it. Zero dependencies (the global `fetch`); nothing
 * here may import from outside this folder at run time, so importing it never loads the server.
 */
export { createClient, TokenkeeperClient, type ClientOptions, type ListConnectionsOptions, type OwnerTokenOptions, type TokenOptions } from './tokenkeeper-client.ts';
export { TokenkeeperApiError, type ApiErrorCode } from './api-error.ts';
export type {
  Action,
  ActionExecution,
  ActionOutcome,
  ActionPreview,
  ApiKey,
  Connection,
  ConnectionEvent,
  ConnectionFilter,
  ConnectionKind,
  ConnectionStatus,
  ConnectSession,
  ConnectSessionInput,
  CreatedApiKey,
  DeletedConnection,
  ImportConnectionInput,
  Integration,
  IntegrationChanges,
  IntegrationInput,
  IntegrationStatus,
  IsoDateTime,
  OwnerTokenResponse,
  Page,
  TokenResponse,
} from './wire-types.ts';
