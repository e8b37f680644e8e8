export {
  IntegrationService,
  type IntegrationFailureReport,
  type IntegrationServiceOptions,
  type IntegrationView,
  type OutboundCallGuard,
  type ResolvedIntegration,
} from './integration-service.ts';
export { integrationStatus, integrationToJson, type IntegrationStatus } from './integration-json.ts';
export { INTEGRATION_COHERENCE_MS } from './coherent-cache.ts';
export { validateIntegrationInput, type ValidIntegrationInput } from './integration-input.ts';
