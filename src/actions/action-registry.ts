import { closestMatch } from '../closest-match.ts';
import { ConfigError, type ActionsConfig, type ConfigProblem } from '../config/index.ts';
import { TokenkeeperError } from '../errors.ts';
import { listProviders } from '../providers/index.ts';
import type { ActionDefinition } from './action-definition.ts';
import { compileActionInput } from './action-input.ts';
import { builtInActions } from './built-in/index.ts';
import { firstLine } from './action-definition-problems.ts';
import { ACTIONS_DIR_VARIABLE, loadActionModules } from './load-action-modules.ts';

export const ACTIONS_DISABLED_VARIABLE = 'TOKENKEEPER_ACTIONS_DISABLED';

/** The integration an action runs through, as far as actions care. */
export interface ActionIntegration {
  key: string;
  /** Its catalog provider key. */
  provider: string;
  /** The integration's kill switch (`actions_enabled`); absent means enabled. */
  actionsEnabled?: boolean;
}

/** What switched an action off, or null when it is on. */
export type ActionDisabledBy = 'name' | 'integration' | null;

/**
 * The kill switch (issue 9, item 7), both halves: the action's name in
 * TOKENKEEPER_ACTIONS_DISABLED, or `actions_enabled: false` on the integration. The name is
 * checked first: an operator who turned one action off everywhere should read that, not the
 * integration's broader switch.
 */
export function actionDisabledBy(name: string, disabledNames: ReadonlySet<string>, integration: Pick<ActionIntegration, 'actionsEnabled'> | null): ActionDisabledBy {
  if (disabledNames.has(name)) return 'name';
  if (integration !== null && integration.actionsEnabled === false) return 'integration';
  return null;
}

/** `501 action_disabled` when the action is switched off; checked before anything is built or sent. */
export function assertActionEnabled(name: string, disabledNames: ReadonlySet<string>, integration: Pick<ActionIntegration, 'key' | 'actionsEnabled'> | null): void {
  const by = actionDisabledBy(name, disabledNames, integration);
  if (by === null) return;
  const message =
    by === 'name'
      ? `The action ${name} is turned off (${ACTIONS_DISABLED_VARIABLE}).`
      : `Actions are turned off for the integration ${integration!.key} (actions_enabled is false).`;
  throw new TokenkeeperError('action_disabled', message, { details: { outcome: 'action_disabled', action: name, disabled_by: by } });
}

/** An action as `GET /v1/actions` lists it. */
export interface ActionJson {
  name: string;
  description: string;
  providers: string[];
  /** Null: every integration of those providers. */
  integrations: string[] | null;
  /** False when TOKENKEEPER_ACTIONS_DISABLED names it (or, for a listing per integration, when the integration's actions are off). */
  enabled: boolean;
  /** `built-in`, or `module` for one loaded from TOKENKEEPER_ACTIONS_DIR. */
  source: 'built-in' | 'module';
  /** The input's JSON Schema. */
  input_schema: unknown;
}

/**
 * The actions this instance offers: the built-in ones and those loaded from
 * TOKENKEEPER_ACTIONS_DIR, with the names TOKENKEEPER_ACTIONS_DISABLED turns off. Built once at
 * start-up (`createActionRegistry`) and never changed: every instance of a cluster started with
 * the same configuration offers the same actions.
 */
export class ActionRegistry {
  readonly #actions: ReadonlyMap<string, { definition: ActionDefinition; source: 'built-in' | 'module' }>;
  readonly disabledNames: ReadonlySet<string>;

  constructor(actions: ReadonlyArray<{ definition: ActionDefinition; source: 'built-in' | 'module' }>, disabledNames: Iterable<string> = []) {
    this.#actions = new Map(actions.map((entry) => [entry.definition.name, entry]));
    this.disabledNames = new Set(disabledNames);
  }

  /** Every action, built-in ones first, in their order. */
  list(): ActionDefinition[] {
    return [...this.#actions.values()].map((entry) => entry.definition);
  }

  get(name: string): ActionDefinition | undefined {
    return this.#actions.get(name)?.definition;
  }

  /** Whether the integration offers the action: its provider is one of the action's, and its key one of `integrations` when set. */
  appliesTo(action: ActionDefinition, integration: Pick<ActionIntegration, 'key' | 'provider'>): boolean {
    return action.providers.includes(integration.provider) && (action.integrations === undefined || action.integrations.includes(integration.key));
  }

  /** The actions an integration offers, switched off or not. */
  forIntegration(integration: Pick<ActionIntegration, 'key' | 'provider'>): ActionDefinition[] {
    return this.list().filter((action) => this.appliesTo(action, integration));
  }

  /**
   * The action to run through `integration`, or `404 action_not_found`: for a name no action has
   * (with the closest name, when one is close), and for an action this integration does not
   * offer (with those it does).
   */
  resolve(name: string, integration: Pick<ActionIntegration, 'key' | 'provider'>): ActionDefinition {
    const action = this.get(name);
    if (action === undefined) {
      const suggestion = closestMatch(name, [...this.#actions.keys()]);
      throw new TokenkeeperError('action_not_found', `No action is named ${JSON.stringify(name.slice(0, 100))}${suggestion ? `; did you mean ${suggestion}?` : '.'}`, {
        details: suggestion ? { suggestion } : undefined,
      });
    }
    if (!this.appliesTo(action, integration)) {
      const available = this.forIntegration(integration).map((candidate) => candidate.name);
      throw new TokenkeeperError(
        'action_not_found',
        `The integration ${integration.key} (${integration.provider}) does not offer ${name}; ${available.length > 0 ? `it offers ${available.join(', ')}` : 'it offers no actions'}.`,
        { details: { available } },
      );
    }
    return action;
  }

  /** See `actionDisabledBy`. */
  disabledBy(name: string, integration: Pick<ActionIntegration, 'actionsEnabled'> | null): ActionDisabledBy {
    return actionDisabledBy(name, this.disabledNames, integration);
  }

  /** See `assertActionEnabled`. */
  assertEnabled(name: string, integration: Pick<ActionIntegration, 'key' | 'actionsEnabled'> | null): void {
    assertActionEnabled(name, this.disabledNames, integration);
  }

  /** `GET /v1/actions`: every action, or those an integration offers with `enabled` as it sees them. */
  toJson(integration?: ActionIntegration): ActionJson[] {
    const entries = [...this.#actions.values()].filter((entry) => integration === undefined || this.appliesTo(entry.definition, integration));
    return entries.map(({ definition, source }) => ({
      name: definition.name,
      description: definition.description,
      providers: [...definition.providers],
      integrations: definition.integrations ? [...definition.integrations] : null,
      enabled: this.disabledBy(definition.name, integration ?? null) === null,
      source,
      input_schema: definition.input,
    }));
  }
}

/** What `createActionRegistry` reads of the configuration. */
export interface ActionRegistryOptions {
  /** The built-in actions; tests may pass others. Default `builtInActions`. */
  builtIns?: readonly ActionDefinition[];
}

/**
 * The registry for this configuration, built at start-up: loads and checks the modules of
 * TOKENKEEPER_ACTIONS_DIR, compiles every input schema, and checks every name of
 * TOKENKEEPER_ACTIONS_DISABLED against the actions there are (a mistyped name would otherwise
 * leave the action it meant running). Any problem stops start-up: a `ConfigError` lists them all.
 */
export async function createActionRegistry(config: { actions: ActionsConfig }, options: ActionRegistryOptions = {}): Promise<ActionRegistry> {
  const problems: ConfigProblem[] = [];
  const entries: Array<{ definition: ActionDefinition; source: 'built-in' | 'module'; file: string | null }> = [];
  for (const definition of options.builtIns ?? builtInActions) {
    // Not compiled here: a built-in's schema is Tokenkeeper's own, checked by its tests
    // (test/actions-built-in.test.ts), and compiling five of them is a tenth of start-up. Each is
    // compiled on first use. Operators' modules are compiled below, so their mistakes stop start-up.
    if (options.builtIns !== undefined) checkBuiltIn(definition);
    entries.push({ definition, source: 'built-in', file: null });
  }
  if (config.actions.dir !== null) {
    const loaded = await loadActionModules(config.actions.dir, listProviders().map((provider) => provider.key));
    problems.push(...loaded.problems);
    for (const { definition, file } of loaded.actions) {
      const existing = entries.find((entry) => entry.definition.name === definition.name);
      if (existing) {
        problems.push({
          variable: ACTIONS_DIR_VARIABLE,
          message: `${file}: action ${JSON.stringify(definition.name)} is already defined ${existing.file === null ? 'by Tokenkeeper (a built-in action)' : `in ${existing.file}`}; give it another name`,
        });
        continue;
      }
      entries.push({ definition, source: 'module', file });
    }
  }
  const names = entries.map((entry) => entry.definition.name);
  for (const name of config.actions.disabled) {
    if (names.includes(name)) continue;
    const suggestion = closestMatch(name, names);
    problems.push({
      variable: ACTIONS_DISABLED_VARIABLE,
      message: `${JSON.stringify(name)} is not an action${suggestion ? `; did you mean ${suggestion}?` : `; the actions are ${names.join(', ')}`}`,
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return new ActionRegistry(entries, config.actions.disabled);
}

/** A built-in's schema compiles; a failure is Tokenkeeper's own bug, not the operator's. */
export function checkBuiltIn(definition: ActionDefinition): void {
  try {
    compileActionInput(definition);
  } catch (error) {
    throw new Error(`The built-in action ${definition.name} has an input schema that does not compile: ${firstLine(error)}`);
  }
}
