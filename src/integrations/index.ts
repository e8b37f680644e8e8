export { IntegrationService, integrationToJson, type IntegrationServiceOptions, type ResolvedIntegration } from './integration-service.ts';
export { validateIntegrationInput, type ValidIntegrationInput } from './integration-input.ts';
