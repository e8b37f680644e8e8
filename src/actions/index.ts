/**
 * Actions: typed operations on provider APIs on a user's behalf (docs/actions.md). Most of this
 * folder is pure: definitions, the registry (built-ins and TOKENKEEPER_ACTIONS_DIR modules),
 * input validation, the exact request (prepare, preview), reading the answer, the kill switch and
 * the bounded outcome reasons. `ActionService` runs them: sending through the proxy path, the
 * Idempotency-Key store (`IdempotentExecutions`), events and metrics.
 */
export {
  ACTION_METHODS,
  defineAction,
  type ActionBuildContext,
  type ActionDefinition,
  type ActionMethod,
  type ActionRequest,
  type ActionResponse,
} from './action-definition.ts';
export { compileActionInput, validateActionInput } from './action-input.ts';
export { ActionReadError } from './action-read-error.ts';
export {
  ACTIONS_DISABLED_VARIABLE,
  ActionRegistry,
  actionDisabledBy,
  assertActionEnabled,
  createActionRegistry,
  type ActionDisabledBy,
  type ActionIntegration,
  type ActionJson,
  type ActionRegistryOptions,
} from './action-registry.ts';
export {
  REDACTED_AUTHORIZATION,
  actionPathProblem,
  joinApiUrl,
  prepareAction,
  prepareAndPreviewAction,
  previewAction,
  type ActionPreview,
  type PrepareActionOptions,
  type PreparedActionRequest,
} from './action-request.ts';
export { actionErrorFor, actionResultError, providerErrorCode, readActionResponse, type ActionResult } from './action-result.ts';
export { builtInActions } from './built-in/index.ts';
export {
  ActionService,
  inputOf,
  type ActionConnections,
  type ActionExecutionJson,
  type ActionPreviewJson,
  type ActionServiceOptions,
  type ExecuteOptions,
} from './action-service.ts';
export { IDEMPOTENCY_WINDOW_MS, IdempotentExecutions, canonicalJson, type IdempotentExecutionsOptions, type StoredAnswer } from './idempotent-executions.ts';
export { classifyError, classifyOutcome, classifyResponse, type ActionStage } from './classify-outcome.ts';
export { ACTIONS_DIR_VARIABLE } from './load-action-modules.ts';
export {
  ACTION_FAILURE_REASONS,
  ACTION_OUTCOMES,
  isActionFailureReason,
  type ActionFailureReason,
  type ActionOutcome,
} from './outcome-reasons.ts';
