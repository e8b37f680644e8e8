import { errorRegistry } from '../errors.ts';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const errorResponse = { description: 'Error', ...json(ref('Error')) };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^con_[a-z2-7]{20}$' } };
const keyParam = { name: 'key', in: 'path', required: true, schema: { type: 'string' } };
const minValidity = { name: 'min_validity', in: 'query', schema: { type: 'integer', minimum: 0, maximum: 86400 }, description: 'Seconds the token must stay valid; default: the refresh buffer.' };

/** The OpenAPI 3.1 document served at /openapi.json. */
export function buildOpenApiDocument(publicUrl: string, version: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'Tokenkeeper', version, description: 'Keeps OAuth connections alive: connect, store encrypted, hand out valid tokens.' },
    servers: [{ url: publicUrl }],
    security: [{ apiKey: [] }],
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'An API key from `tokenkeeper keys create`.' },
        cronSecret: { type: 'http', scheme: 'bearer', description: 'TOKENKEEPER_CRON_SECRET.' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string', enum: Object.keys(errorRegistry) }, message: { type: 'string' }, details: { type: 'object' } },
            },
          },
        },
        Token: {
          type: 'object',
          properties: {
            access_token: { type: 'string' },
            token_type: { type: 'string' },
            expires_at: { type: ['string', 'null'], format: 'date-time' },
            expires_in: { type: ['integer', 'null'] },
            scopes: { type: ['array', 'null'], items: { type: 'string' } },
            connection_id: { type: 'string' },
          },
        },
        Integration: {
          type: 'object',
          properties: {
            key: { type: 'string' }, provider: { type: 'string' }, client_id: { type: 'string' }, has_client_secret: { type: 'boolean' },
            scopes: { type: 'array', items: { type: 'string' } }, redirect_uri: { type: 'string' }, settings: { type: 'object' },
            refresh_buffer_seconds: { type: 'integer' }, system_grant: { type: ['string', 'null'] }, enabled: { type: 'boolean' },
            status: { enum: ['ok', 'failing', 'disabled'] },
            failure: {
              type: ['object', 'null'],
              description: "Set while the provider rejects the integration's own credentials; cleared by any update.",
              properties: { code: { type: 'string' }, message: { type: 'string' }, since: { type: 'string', format: 'date-time' } },
            },
          },
        },
        IntegrationInput: {
          type: 'object',
          required: ['key', 'provider', 'client_id'],
          properties: {
            key: { type: 'string' }, provider: { type: 'string' }, client_id: { type: 'string' }, client_secret: { type: 'string', writeOnly: true },
            scopes: { type: 'array', items: { type: 'string' } }, redirect_uri: { type: 'string' }, settings: { type: 'object' },
            refresh_buffer_seconds: { type: 'integer' }, system_grant: { type: ['string', 'null'], enum: ['client_credentials', null] },
            system_scopes: { type: 'array', items: { type: 'string' } }, enabled: { type: 'boolean' }, display_name: { type: 'string' },
          },
        },
        Connection: {
          type: 'object',
          properties: {
            id: { type: 'string' }, integration: { type: 'string' }, provider: { type: 'string' }, owner_id: { type: ['string', 'null'] },
            kind: { enum: ['user', 'system'] }, status: { enum: ['pending', 'active', 'degraded', 'needs_reauth', 'revoked'] },
            status_reason: { type: ['string', 'null'] }, account_id: { type: ['string', 'null'] }, account_label: { type: ['string', 'null'] },
            expires_at: { type: ['string', 'null'] }, metadata: { type: 'object' },
          },
        },
        ApiKey: {
          type: 'object',
          properties: {
            id: { type: 'string' }, name: { type: 'string' }, prefix: { type: 'string', description: 'The first characters of the key, to tell keys apart.' },
            created_at: { type: 'string', format: 'date-time' }, last_used_at: { type: ['string', 'null'], format: 'date-time' }, revoked_at: { type: ['string', 'null'], format: 'date-time' },
          },
        },
        JobReport: {
          type: 'object',
          properties: { job: { type: 'string' }, checked: { type: 'integer' }, refreshed: { type: 'integer' }, failed: { type: 'integer' }, needs_reauth: { type: 'integer' }, duration_ms: { type: 'integer' } },
        },
      },
    },
    paths: {
      '/health': { get: { security: [], summary: 'Storage reachable, version', responses: { 200: { description: 'OK' }, 503: { description: 'Storage unreachable' } } } },
      '/metrics': { get: { security: [], summary: 'Prometheus metrics', responses: { 200: { description: 'text exposition format' } } } },
      '/v1/integrations': {
        get: { summary: 'List integrations', responses: { 200: json({ type: 'object', properties: { data: { type: 'array', items: ref('Integration') } } }), 401: errorResponse } },
        post: { summary: 'Create an integration', requestBody: json(ref('IntegrationInput')), responses: { 201: json(ref('Integration')), 400: errorResponse, 409: errorResponse } },
      },
      '/v1/integrations/{key}': {
        parameters: [keyParam],
        get: { summary: 'Get an integration', responses: { 200: json(ref('Integration')), 404: errorResponse } },
        patch: { summary: 'Update an integration', requestBody: json(ref('IntegrationInput')), responses: { 200: json(ref('Integration')), 400: errorResponse } },
        delete: { summary: 'Delete an integration', parameters: [{ name: 'force', in: 'query', schema: { type: 'boolean' } }], responses: { 204: { description: 'Deleted' }, 409: errorResponse } },
      },
      '/v1/integrations/{key}/token': {
        parameters: [keyParam],
        get: {
          summary: "An owner's token, or the system token",
          parameters: [{ name: 'owner_id', in: 'query', schema: { type: 'string' } }, { name: 'fallback', in: 'query', schema: { enum: ['system', 'none'] } }, minValidity],
          responses: { 200: json(ref('Token')), 404: errorResponse, 409: errorResponse, 503: errorResponse },
        },
      },
      '/v1/connect/sessions': {
        post: {
          summary: 'Start connecting an account',
          requestBody: json({ type: 'object', required: ['integration'], properties: { integration: { type: 'string' }, owner_id: { type: 'string' }, redirect_to: { type: 'string', format: 'uri', description: 'Where the callback sends the user back. Allowed origins: this service, TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS, and loopback in development.' }, kind: { enum: ['user', 'system'] } } }),
          responses: { 201: json({ type: 'object', properties: { connect_url: { type: 'string' }, expires_at: { type: 'string' } } }), 400: errorResponse, 404: errorResponse },
        },
      },
      '/v1/connections': {
        get: {
          summary: 'List connections',
          parameters: ['integration', 'owner_id', 'status', 'kind', 'limit', 'after'].map((name) => ({ name, in: 'query', schema: { type: 'string' } })),
          responses: { 200: json({ type: 'object', properties: { data: { type: 'array', items: ref('Connection') }, next: { type: ['string', 'null'] } } }) },
        },
        post: { summary: 'Import an existing token set (the same owner and account_id again updates that connection)', responses: { 200: json(ref('Connection')), 201: json(ref('Connection')), 400: errorResponse, 404: errorResponse } },
      },
      '/v1/connections/{id}': {
        parameters: [idParam],
        get: { summary: 'Get a connection (no secrets)', responses: { 200: json(ref('Connection')), 404: errorResponse } },
        delete: { summary: 'Revoke at the provider (RFC 7009) and delete', responses: { 200: { description: 'Deleted' }, 404: errorResponse } },
      },
      '/v1/connections/{id}/token': {
        parameters: [idParam],
        get: { summary: 'A token valid for at least min_validity', parameters: [minValidity], responses: { 200: json(ref('Token')), 409: errorResponse, 422: errorResponse, 503: errorResponse } },
      },
      '/v1/connections/{id}/refresh': { parameters: [idParam], post: { summary: 'Refresh now', responses: { 200: json(ref('Token')), 409: errorResponse, 503: errorResponse } } },
      '/v1/connections/{id}/events': { parameters: [idParam], get: { summary: 'Lifecycle events, newest first', responses: { 200: { description: 'Events' } } } },
      '/v1/api-keys': {
        get: { summary: 'List API keys (never the keys themselves)', responses: { 200: json({ type: 'object', properties: { data: { type: 'array', items: ref('ApiKey') } } }), 401: errorResponse } },
        post: {
          summary: 'Create an API key; the key is in this response only',
          requestBody: json({ type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 100 } } }),
          responses: { 201: json({ allOf: [ref('ApiKey'), { type: 'object', required: ['key'], properties: { key: { type: 'string' } } }] }), 400: errorResponse },
        },
      },
      '/v1/api-keys/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^key_[a-z2-7]{20}$' } }],
        delete: { summary: 'Revoke an API key (at once on the instance that answers; idempotent)', responses: { 200: json(ref('ApiKey')), 400: errorResponse, 404: errorResponse } },
      },
      '/v1/cron/{job}': {
        post: {
          security: [{ cronSecret: [] }],
          summary: 'Run a scheduled job (serverless deployments)',
          parameters: [{ name: 'job', in: 'path', required: true, schema: { enum: ['refresh', 'cleanup'] } }],
          responses: { 200: json(ref('JobReport')), 401: errorResponse, 404: errorResponse },
        },
      },
    },
  };
}
