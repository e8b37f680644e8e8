import type { ActionRegistry } from '../actions/index.ts';
import { isTokenkeeperError } from '../errors.ts';
import type { IntegrationService } from '../integrations/index.ts';
import type { Banner } from './home-page.ts';

/** Why an actions switch form was refused: the `actions_error` the page is redirected back with. */
export type ActionsSwitchProblem = 'invalid_switch' | 'integration_not_found' | 'no_actions';

const PROBLEM_MESSAGES: Record<ActionsSwitchProblem, string> = {
  invalid_switch: 'The form did not say whether to turn actions on or off, so nothing was changed.',
  integration_not_found: 'That integration no longer exists, so nothing was changed.',
  no_actions: 'No action applies to that integration, so there is nothing to switch.',
};

/** An integration key as the API accepts one; anything else cannot name a stored integration. */
const INTEGRATION_KEY = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * Dependencies of the form and its banner: the integrations (read, update) and the action
 * registry (which integrations have actions at all).
 */
export interface ActionsSwitchDeps {
  integrations: Pick<IntegrationService, 'findByKey' | 'update'>;
  actions: { registry: Pick<ActionRegistry, 'forIntegration'> };
}

/** Whether the page offers the switch for this integration: only when some action applies to it. */
export function hasActions(deps: Pick<ActionsSwitchDeps, 'actions'>, integration: { key: string; provider: string }): boolean {
  return deps.actions.registry.forIntegration({ key: integration.key, provider: integration.provider }).length > 0;
}

/**
 * `POST /ui/integrations/actions`: sets the integration's kill switch for actions
 * (`actions_enabled`, docs/actions.md "Kill switch") to what the form says, through the same
 * `integrations.update` as `PATCH /v1/integrations/<key>`, so the cache of every process learns
 * it the same way. The form carries the wanted state, not "toggle": a double click, or a second
 * operator pressing the same stale button, leaves it where they both meant it to be.
 *
 * Bad input is an outcome, not an exception, so the page can show it in a banner; only a
 * storage failure throws.
 */
export async function switchActionsFromForm(
  deps: ActionsSwitchDeps,
  form: Record<string, unknown>,
): Promise<{ integrationKey: string } | { problem: ActionsSwitchProblem }> {
  const wanted = form.actions_enabled === 'true' ? true : form.actions_enabled === 'false' ? false : null;
  if (wanted === null) return { problem: 'invalid_switch' };
  const key = typeof form.integration === 'string' ? form.integration : '';
  if (!INTEGRATION_KEY.test(key)) return { problem: 'integration_not_found' };
  const integration = await deps.integrations.findByKey(key);
  if (integration === null) return { problem: 'integration_not_found' };
  if (!hasActions(deps, integration)) return { problem: 'no_actions' };
  try {
    await deps.integrations.update(key, { actions_enabled: wanted });
  } catch (error) {
    // Removed between the read and the write.
    if (isTokenkeeperError(error) && error.code === 'integration_not_found') return { problem: 'integration_not_found' };
    throw error;
  }
  return { integrationKey: key };
}

/**
 * The banner after an actions switch form: `actions_switched=<integration key>` (the state is read
 * back from storage, so the page states what is stored, never text from the address bar) or
 * `actions_error=<problem>`.
 */
export async function actionsSwitchBannerFor(query: Record<string, unknown>, deps: ActionsSwitchDeps): Promise<Banner | null> {
  const problem = query.actions_error;
  if (typeof problem === 'string' && problem !== '') {
    return {
      ok: false,
      title: 'Actions not switched',
      message: Object.hasOwn(PROBLEM_MESSAGES, problem) ? PROBLEM_MESSAGES[problem as ActionsSwitchProblem] : 'The actions switch could not be changed.',
      code: 'invalid_request',
    };
  }
  const key = query.actions_switched;
  if (typeof key !== 'string' || !INTEGRATION_KEY.test(key)) return null;
  const integration = await deps.integrations.findByKey(key);
  if (integration === null) return null;
  if (integration.actionsEnabled) {
    return { ok: true, title: `Actions of ${integration.key} are on`, message: 'Its actions run again.' };
  }
  return {
    ok: true,
    title: `Actions of ${integration.key} are off`,
    message: `Its actions now answer 501 action_disabled and send nothing; the proxy keeps working. Turn them back on here (or PATCH /v1/integrations/${integration.key} with {"actions_enabled": true}).`,
  };
}
