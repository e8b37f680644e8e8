import { TokenkeeperError } from '../errors.ts';

/**
 * One error of the schema validator (Ajv, with `verbose` so that the failing schema and value
 * are at hand). Declared structurally: this file turns it into words and needs nothing else.
 */
export interface SchemaValidationError {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  parentSchema?: Record<string, unknown>;
  data?: unknown;
}

/** The request part that failed, as Fastify names it (`error.validationContext`). */
export type RequestPart = 'body' | 'querystring' | 'params' | 'headers';

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a JSON object',
  array: 'an array',
  null: 'null',
};

const FORMAT_WORDS: Record<string, string> = {
  'date-time': 'an ISO 8601 date-time with a time zone, e.g. 2030-01-31T12:00:00Z',
  uri: 'an absolute URI',
};

/** A field or parameter name as the client wrote it, cut short: it is echoed back. */
function quoted(name: unknown): string {
  return JSON.stringify(String(name).slice(0, 40));
}

/** `/settings/scopes/0` → `settings.scopes[0]`: the path a person reads. */
function fieldOf(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce((path, segment) => (/^\d+$/.test(segment) ? `${path}[${segment}]` : path === '' ? segment : `${path}.${segment}`), '');
}

function typeWords(type: unknown): string {
  const types = Array.isArray(type) ? type : String(type).split(',');
  return types.map((name) => TYPE_WORDS[name] ?? `a ${name}`).join(' or ');
}

/** What a schema accepts, in words: its description when it has one (written to complete "must be …"), else its type. */
function expected(schema: Record<string, unknown> | undefined): string {
  if (!schema) return 'valid';
  if (typeof schema.description === 'string') return schema.description;
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as Record<string, unknown>[]).map((branch) => expected(branch)).join(' or ');
  if (schema.type === 'array' && schema.items && typeof schema.items === 'object') return `an array of ${typeWords((schema.items as { type?: unknown }).type).replace(/^an? /, '')}s`;
  if (schema.type !== undefined) return typeWords(schema.type);
  return 'valid';
}

function literal(value: unknown): string {
  return value === null ? 'null' : JSON.stringify(value);
}

/** One problem in words. */
function problemOf(error: SchemaValidationError, part: RequestPart): string {
  const field = fieldOf(error.instancePath);
  const subject = field === '' ? (part === 'body' ? 'the body' : 'the request') : field;
  const params = error.params;
  switch (error.keyword) {
    case 'required':
      return `${field === '' ? '' : `${field}.`}${String(params.missingProperty)} is required`;
    case 'additionalProperties':
      if (part === 'querystring') return `unknown query parameter ${quoted(params.additionalProperty)}`;
      return field === '' ? `unknown field ${quoted(params.additionalProperty)}` : `${field} has an unknown field ${quoted(params.additionalProperty)}`;
    case 'type':
      // The query string parser makes a repeated parameter an array.
      if (part === 'querystring' && Array.isArray(error.data) && params.type !== 'array') return `${subject} must be given once`;
      return `${subject} must be ${typeWords(params.type)}`;
    case 'minLength':
      return params.limit === 1 ? `${subject} must not be empty` : `${subject} must be at least ${String(params.limit)} characters`;
    case 'maxLength':
      return `${subject} must be at most ${String(params.limit)} characters`;
    case 'minimum':
      return `${subject} must be at least ${String(params.limit)}`;
    case 'maximum':
      return `${subject} must be at most ${String(params.limit)}`;
    case 'exclusiveMinimum':
      return `${subject} must be greater than ${String(params.limit)}`;
    case 'exclusiveMaximum':
      return `${subject} must be less than ${String(params.limit)}`;
    case 'minItems':
      return `${subject} must have at least ${String(params.limit)} items`;
    case 'maxItems':
      return `${subject} must have at most ${String(params.limit)} items`;
    case 'enum':
      return `${subject} must be one of ${((params.allowedValues as unknown[]) ?? []).map(literal).join(', ')}`;
    case 'const':
      return `${subject} must be ${literal(params.allowedValue)}`;
    case 'format':
      return `${subject} must be ${FORMAT_WORDS[String(params.format)] ?? `a valid ${String(params.format)}`}`;
    case 'pattern':
    case 'anyOf':
      return `${subject} must be ${expected(error.parentSchema)}`;
    default:
      return `${subject} is not valid`;
  }
}

/**
 * Drops the errors of the branches of a failed `anyOf`: "scopes must be an array of scope
 * strings, or one string" says it once, where the validator reports every branch that failed.
 */
function withoutBranchErrors(errors: SchemaValidationError[]): SchemaValidationError[] {
  const anyOfPaths = errors.filter((error) => error.keyword === 'anyOf').map((error) => `${error.schemaPath.slice(0, -'/anyOf'.length)}/anyOf/`);
  return errors.filter((error) => !anyOfPaths.some((path) => error.schemaPath.startsWith(path)));
}

/**
 * The validator's errors as the API's `invalid_request`: every problem, in words, in
 * `details.problems` and in the message; never the validator's own text. A path parameter that
 * is not the id it should be stays `invalid_id`, as it was before the schemas.
 */
export function validationError(errors: SchemaValidationError[], part: RequestPart): TokenkeeperError {
  if (part === 'params') {
    const error = errors[0];
    const value = error?.data;
    const what = error && error.keyword === 'pattern' ? expected(error.parentSchema) : 'a valid id';
    return new TokenkeeperError('invalid_id', `${JSON.stringify(String(value ?? '').slice(0, 60))} is not ${what}.`);
  }
  const problems = [...new Set(withoutBranchErrors(errors).map((error) => problemOf(error, part)))];
  return new TokenkeeperError('invalid_request', `Invalid request: ${problems.join('; ')}.`, { details: { problems } });
}
