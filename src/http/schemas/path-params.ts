import Type from 'typebox';

/**
 * Path parameters. An id that does not match its pattern is `invalid_id` (400), as before the
 * schemas; the description completes "… is not …" in that error's message.
 */
export function idParam(prefix: string, what: string) {
  return Type.String({ pattern: `^${prefix}_[a-z2-7]{20}$`, description: `${what} id (${prefix}_ and 20 characters from a-z and 2-7)` });
}

export const ConnectionIdParams = Type.Object({ id: idParam('con', 'a connection') }, { additionalProperties: false });
export const ApiKeyIdParams = Type.Object({ id: idParam('key', 'an API key') }, { additionalProperties: false });

/** Not checked against the key pattern here: an unknown key is `integration_not_found` (404), whatever its spelling. */
export const IntegrationKeyParams = Type.Object({ key: Type.String({ description: 'The integration key, e.g. `google`.' }) }, { additionalProperties: false });

export const CronJobParams = Type.Object(
  { job: Type.String({ description: 'The job to run: `refresh` (the proactive sweep) or `cleanup`; another name is `unknown_job`.' }) },
  { additionalProperties: false },
);
