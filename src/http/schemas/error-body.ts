import Type, { type Static, type TUnsafe } from 'typebox';
import { errorRegistry, type ErrorCode } from '../../errors.ts';
import { ref } from './schema-builders.ts';

/**
 * The one error body, `{ error: { code, message, details? } }`, for every error answer. Extra
 * fields of `error` are kept when it is serialized (`additionalProperties`), so a field added to
 * the body elsewhere is not silently dropped by a response schema.
 */
export const ErrorBody = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.Unsafe<ErrorCode>({ type: 'string', enum: Object.keys(errorRegistry), description: 'A stable code from docs/errors.md.' }),
        message: Type.String({ description: 'What went wrong, for a person; may change between versions (the code does not).' }),
        details: Type.Optional(
          Type.Unsafe<Record<string, unknown>>({
            type: 'object',
            additionalProperties: true,
            description: 'Structured facts about the error, e.g. `problems`: every problem of an invalid request, in words.',
          }),
        ),
        request_id: Type.Optional(Type.String({ description: 'The request id (also in the `x-request-id` header), to find the request in the logs.' })),
      },
      { additionalProperties: true },
    ),
  },
  { $id: 'Error', description: 'An error answer.', additionalProperties: true },
);
export type ErrorBody = Static<typeof ErrorBody>;

/** Error answers of one operation: status → which codes it carries and when. */
export type ErrorAnswers = Partial<Record<400 | 401 | 403 | 404 | 409 | 410 | 413 | 415 | 422 | 429 | 500 | 501 | 502 | 503 | 504, string>>;

function codesWith(status: number): string {
  const codes = Object.entries(errorRegistry).filter(([, entry]) => entry.status === status).map(([code]) => `\`${code}\``);
  return codes.join(', ');
}

/** Response entries, all pointing at the one error schema. */
export function errorResponses(answers: ErrorAnswers): Record<string, TUnsafe<ErrorBody>> {
  const responses: Record<string, TUnsafe<ErrorBody>> = {};
  for (const [status, description] of Object.entries(answers)) responses[status] = ref(ErrorBody, description);
  return responses;
}

/**
 * The error answers every route under /v1 can give besides its own: a malformed request, a
 * missing key, storage down, and the unexpected.
 */
export function apiErrorResponses(answers: ErrorAnswers, options: { body?: boolean } = {}): Record<string, TUnsafe<ErrorBody>> {
  return errorResponses({
    400: options.body
      ? 'The request is invalid (`invalid_request`, every problem in `details.problems`) or its body is not JSON (`invalid_json`).'
      : 'The request is invalid (`invalid_request`, every problem in `details.problems`).',
    401: 'No API key, or not a valid one (`unauthorized`).',
    ...(options.body ? { 413: 'The body is too large (`payload_too_large`).', 415: 'The body is not `application/json` (`unsupported_media_type`).' } : {}),
    500: `An internal error (${codesWith(500)}).`,
    503: 'Storage is unreachable (`storage_unavailable`) or this instance is shutting down (`shutting_down`); retry after `Retry-After`.',
    ...answers,
  });
}
