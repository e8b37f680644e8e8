import Type from 'typebox';

/**
 * The application's id for the end user who owns a connection (`isValidOwnerId`). The pattern
 * and the length are separate keywords so that a long id gets one problem ("at most 200
 * characters"), not two.
 */
export const OwnerId = (description = "The application's id for the end user.") =>
  Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$', description: `printable ASCII characters without spaces: ${description}` });
