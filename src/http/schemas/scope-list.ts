import Type from 'typebox';

/**
 * Scopes as a client may send them (see `parseScopeList`): an array of scope tokens, or one
 * string separated by spaces or commas.
 */
export const ScopeList = () =>
  Type.Union([Type.Array(Type.String({ minLength: 1, maxLength: 500, pattern: '^\\S+$' }), { maxItems: 200 }), Type.String({ maxLength: 10_000 })], {
    description: 'an array of scope strings, or one string separated by spaces or commas',
  });
