import Type from 'typebox';

/**
 * The query string of a route that takes no parameters. Declared anyway, so that an unknown
 * parameter is refused there too: a misspelt filter must be an error, never silently ignored.
 */
export const NoQuery = Type.Object({}, { additionalProperties: false });
