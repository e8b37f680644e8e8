import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Fastify's validator compiler with one Ajv per request part, the arrangement Fastify's
 * "Validation and Serialization" reference shows for exactly this:
 *  - a JSON body is never coerced: `"120"` is not a number and `"true"` not a boolean, as the
 *    domain validators (`validateIntegrationInput`, `importConnection`) always held;
 *  - the query string and the path are text, so they are coerced to the declared types
 *    (`min_validity=30` becomes 30), and defaults fill absent parameters;
 *  - nothing is removed: Fastify's default `removeAdditional` would drop an unknown field or
 *    parameter silently, where the API refuses it (`?owner=alice` must not list every owner);
 *  - `allErrors`, so that one answer lists every problem. Fastify leaves it off by default
 *    because, unbounded, it lets a huge body make the validator work long; here every body is
 *    capped by TOKENKEEPER_MAX_BODY_BYTES and every string and array in the schemas by a length;
 *  - `verbose`, so that the failing schema and value are at hand to say the problem in words
 *    (`validation-problems.ts`); nothing of the validator's own output reaches a client.
 */
export function createSchemaValidator(): FastifySchemaCompiler<unknown> {
  const common: Options = { allErrors: true, verbose: true, removeAdditional: false, strict: true, allowUnionTypes: true };
  const body = withFormats(new Ajv({ ...common, coerceTypes: false, useDefaults: false }));
  const text = withFormats(new Ajv({ ...common, coerceTypes: true, useDefaults: true }));
  return ({ schema, httpPart }) => (httpPart === 'body' ? body : text).compile(schema as object);
}

function withFormats(ajv: Ajv): Ajv {
  addFormats.default(ajv);
  return ajv;
}
