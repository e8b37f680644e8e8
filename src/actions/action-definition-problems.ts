import { closestMatch } from '../closest-match.ts';
import { ACTION_NAME_PATTERN } from '../config/index.ts';
import { compileActionInput } from './action-input.ts';

export const MAX_ACTION_NAME_LENGTH = 100;

const INTEGRATION_KEY_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const FIELDS = ['name', 'description', 'providers', 'integrations', 'input', 'inputProblems', 'build', 'read'];

/**
 * Everything wrong with a value offered as an action definition (a user module's default export),
 * as sentences naming the field: the checks TypeScript would make if the module were type-checked
 * (Node only strips its types), and that the input schema compiles with the input validator.
 */
export function actionDefinitionProblems(value: unknown, knownProviders: readonly string[]): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return ['is not an action definition: export an object { name, description, providers, input, build } (or an array of them)'];
  }
  const definition = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const field of Object.keys(definition)) {
    if (FIELDS.includes(field)) continue;
    const suggestion = closestMatch(field, FIELDS);
    problems.push(`unknown field ${JSON.stringify(field)}${suggestion ? ` (did you mean ${suggestion}?)` : ''}`);
  }

  const name = definition.name;
  if (typeof name !== 'string') problems.push('name is required: a string such as "acme.tickets.create"');
  else if (name.length > MAX_ACTION_NAME_LENGTH || !ACTION_NAME_PATTERN.test(name)) {
    problems.push(`name ${JSON.stringify(name.slice(0, 60))} must be lower-case words joined by dots, such as "acme.tickets.create" (at most ${MAX_ACTION_NAME_LENGTH} characters)`);
  }

  if (typeof definition.description !== 'string' || definition.description.trim() === '') problems.push('description is required: one sentence saying what the action does');

  const providers = definition.providers;
  if (!Array.isArray(providers) || providers.length === 0) {
    problems.push(`providers is required: a non-empty array of provider keys (${knownProviders.join(', ')})`);
  } else {
    for (const provider of providers) {
      if (typeof provider === 'string' && knownProviders.includes(provider)) continue;
      const suggestion = typeof provider === 'string' ? closestMatch(provider, knownProviders) : null;
      problems.push(
        `providers: ${JSON.stringify(provider)} is not a provider key${suggestion ? ` (did you mean ${JSON.stringify(suggestion)}?)` : `; the keys are ${knownProviders.join(', ')}`}`,
      );
    }
  }

  const integrations = definition.integrations;
  if (integrations !== undefined) {
    if (!Array.isArray(integrations) || integrations.length === 0) problems.push('integrations, when given, must be a non-empty array of integration keys');
    else {
      for (const key of integrations) {
        if (typeof key !== 'string' || !INTEGRATION_KEY_PATTERN.test(key)) problems.push(`integrations: ${JSON.stringify(key)} is not an integration key`);
      }
    }
  }

  const input = definition.input;
  if (input === null || typeof input !== 'object' || (input as { type?: unknown }).type !== 'object') {
    problems.push('input is required: a JSON Schema with "type": "object" (TypeBox\'s Type.Object gives one)');
  } else {
    try {
      compileActionInput({ input: input as never });
    } catch (error) {
      problems.push(`input is not a valid schema: ${schemaProblem(error)}`);
    }
  }

  if (typeof definition.build !== 'function') problems.push('build is required: a function (input, context) => ({ method, path, headers?, body? })');
  for (const field of ['inputProblems', 'read']) {
    if (definition[field] !== undefined && typeof definition[field] !== 'function') problems.push(`${field}, when given, must be a function`);
  }
  return problems;
}

export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n').find((line) => line.trim() !== '') ?? message).trim().slice(0, 300);
}

/** Ajv's complaint about a schema, shortened to its first point: `properties/a/type must be equal to one of the allowed values`. */
function schemaProblem(error: unknown): string {
  const message = firstLine(error);
  if (!message.startsWith('schema is invalid: ')) return message;
  return message.slice('schema is invalid: '.length).split(', ')[0]!.replace(/^data\/?/, '') || message;
}
