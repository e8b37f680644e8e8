export { buildHttpApp, type HttpApp, type HttpAppOptions } from './app.ts';
export { createApiKey, listApiKeys, revokeApiKeyById, ApiKeyVerifier } from './api-keys.ts';
export { registerOpenApi, type OpenApiOptions } from './openapi.ts';
