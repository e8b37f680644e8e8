import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Static, TSchema } from 'typebox';
import { TokenkeeperError } from '../errors.ts';
// The API's own wording of schema problems, so that an action's input is described exactly as a
// route's body is. It depends on nothing but the error registry.
import { validationError, type SchemaValidationError } from '../http/validation-problems.ts';
import type { ActionDefinition } from './action-definition.ts';

/**
 * The validator of action inputs: Ajv with the options of the HTTP API's JSON bodies
 * (src/http/schema-validator.ts): no coercion (`"120"` is not a number), no defaults, nothing
 * removed (an unknown field is refused, not dropped), every problem at once (`allErrors`; bodies
 * are capped by TOKENKEEPER_MAX_BODY_BYTES and the built-in schemas bound every string and
 * array), `verbose` so that the problems can be said in words, `strict` so that a schema with a
 * mistyped keyword fails when it is compiled, at start-up, rather than silently checking nothing.
 */
const ajv = addFormats.default(
  new Ajv({ allErrors: true, verbose: true, removeAdditional: false, strict: true, allowUnionTypes: true, coerceTypes: false, useDefaults: false }),
);

const compiled = new WeakMap<object, ValidateFunction>();

/** The action's compiled input validator; throws Ajv's error if its schema does not compile. */
export function compileActionInput(action: Pick<ActionDefinition, 'input'>): ValidateFunction {
  let validate = compiled.get(action.input);
  if (validate === undefined) {
    validate = ajv.compile(action.input as object);
    compiled.set(action.input, validate);
  }
  return validate;
}

/**
 * The input, checked against the action's schema and its `inputProblems`. Invalid input is an
 * `invalid_request` (400) whose `details.problems` lists every problem in words and whose
 * `details.outcome` is `validation_error`; nothing is sent.
 */
export function validateActionInput<Input extends TSchema>(action: ActionDefinition<Input>, input: unknown): Static<Input> {
  const validate = compileActionInput(action);
  const problems: string[] = [];
  if (!validate(input)) {
    const error = validationError((validate.errors ?? []) as SchemaValidationError[], 'body');
    problems.push(...((error.details?.problems as string[] | undefined) ?? []));
  }
  if (action.inputProblems && input !== null && typeof input === 'object' && !Array.isArray(input)) {
    problems.push(...action.inputProblems(input as Record<string, unknown>));
  }
  if (problems.length > 0) {
    const unique = [...new Set(problems.map((problem) => problem.replace(/^the body\b/, 'the input')))];
    throw new TokenkeeperError('invalid_request', `Invalid input for ${action.name}: ${unique.join('; ')}.`, {
      details: { problems: unique, outcome: 'validation_error' },
    });
  }
  return input as Static<Input>;
}
