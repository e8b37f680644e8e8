/**
 * The sandbox: a real OAuth 2.0 / OpenID Connect provider on localhost (built on oidc-provider)
 * for development, demos and tests. See start-sandbox.ts for what it serves.
 */
export { startSandbox, type SandboxOptions, type SandboxServer } from './start-sandbox.ts';
export { SANDBOX_DEFAULT_CLIENT, DEFAULT_REDIRECT_URIS, type SandboxClient } from './sandbox-client.ts';
export { DEFAULT_FAULTS, type SandboxFaults } from './faults.ts';
export type { SandboxStats } from './token-request-stats.ts';
export { MAX_MINTED_GRANTS, type MintedGrant, type MintGrantsOptions } from './bulk-grants.ts';
export { runSandboxCommand, type SandboxCommandIo } from './sandbox-command.ts';
export { SANDBOX_STATE_FILE } from './state-database.ts';
