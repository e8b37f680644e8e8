/** The provider catalog and its quirk hooks: the only import surface of src/providers/. */
export type { IntegrationSettings, ProviderEntry, ProviderQuirks, RateLimit } from './types.ts';
export { getProvider, listProviders } from './catalog.ts';
export { apiBaseUrlProblem, validateIntegrationSettings, type SettingsValidation } from './validate-settings.ts';
export { isAllowedEndpointUrl, isLoopbackHost, needsInsecureTransport } from './loopback.ts';
export { MAX_LIFETIME_SECONDS } from './lifetime-limits.ts';
export { effectiveRateLimit, RATE_LIMIT_BOUNDS } from './rate-limit-setting.ts';
