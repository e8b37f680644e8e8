import { Action, ActionExecution, ActionPreview } from './action.ts';
import { Alert, Silence } from './alert.ts';
import { ApiKey, NewApiKey } from './api-key.ts';
import { ConnectSession } from './connect-session.ts';
import { Connection } from './connection.ts';
import { ConnectionEvent } from './connection-event.ts';
import { ErrorBody } from './error-body.ts';
import { Health, Ready } from './health.ts';
import { Integration } from './integration.ts';
import { JobReport } from './job-report.ts';
import { StuckConnection } from './stuck.ts';
import { OwnerToken, Token } from './token.ts';
import { NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint } from './webhook.ts';

/**
 * The route schemas: JSON Schema written with TypeBox, so that Fastify validates requests and
 * serializes answers (fast-json-stringify) from them, TypeScript infers the handlers' types from
 * them, and `@fastify/swagger` writes the OpenAPI document from them. One source.
 */
export { Action, ActionExecution, ActionHeaders, ActionInputBody, ActionList, ActionListQuery, ActionParams, ActionPreview } from './action.ts';
export {
  Alert,
  AlertList,
  AlertListQuery,
  AlertStats,
  AlertStatsQuery,
  AlertTestReport,
  GlobalSilenceCreate,
  GlobalSilenceRestored,
  Silence,
  SilenceCreate,
  SilenceIdParams,
  SilenceList,
  SilenceListQuery,
} from './alert.ts';
export { ApiKey, ApiKeyCreate, ApiKeyList, NewApiKey } from './api-key.ts';
export { ConnectSession, ConnectSessionCreate } from './connect-session.ts';
export { Connection, ConnectionDeleted, ConnectionImport, ConnectionList, ConnectionListQuery } from './connection.ts';
export { ConnectionEvent, ConnectionEventList, ConnectionEventQuery } from './connection-event.ts';
export { apiErrorResponses, ErrorBody, errorResponses } from './error-body.ts';
export { Health, Ready } from './health.ts';
export { Integration, IntegrationCreate, IntegrationDeleteQuery, IntegrationList, IntegrationUpdate } from './integration.ts';
export { JobReport } from './job-report.ts';
export { ApiKeyIdParams, ConnectionIdParams, CronJobParams, IntegrationKeyParams } from './path-params.ts';
export { ref } from './schema-builders.ts';
export { MinValidity, OwnerToken, OwnerTokenQuery, Token, TokenQuery } from './token.ts';
export { NoQuery } from './no-query.ts';
export { OwnerId } from './owner-id.ts';
export { StuckConnection, StuckConnectionList, StuckConnectionQuery } from './stuck.ts';
export {
  NewWebhookEndpoint,
  WebhookCreate,
  WebhookDelivery,
  WebhookDeliveryList,
  WebhookDeliveryParams,
  WebhookDeliveryQuery,
  WebhookEndpoint,
  WebhookEndpointList,
  WebhookIdParams,
} from './webhook.ts';

/** The named shapes, registered with `app.addSchema`: `$ref`ed by the routes, `components.schemas` in the OpenAPI document. */
export const sharedSchemas = [ErrorBody, Token, OwnerToken, Integration, Connection, ConnectionEvent, ConnectSession, ApiKey, NewApiKey, JobReport, Health, Ready, Alert, Silence, StuckConnection, WebhookEndpoint, NewWebhookEndpoint, WebhookDelivery, Action, ActionPreview, ActionExecution];
