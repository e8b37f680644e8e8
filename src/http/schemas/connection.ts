import Type, { type Static } from 'typebox';
import { OwnerId } from './owner-id.ts';
import { ScopeList } from './scope-list.ts';
import { DateTime, FreeObject, nullable, ref, stringEnum } from './schema-builders.ts';

const STATUSES = ['pending', 'active', 'degraded', 'needs_reauth', 'revoked'] as const;
const KINDS = ['user', 'system'] as const;

/** The public shape of a connection (`connectionToJson`): no token, no lease internals. */
export const Connection = Type.Object(
  {
    id: Type.String(),
    integration: Type.String({ description: 'The integration key.' }),
    provider: Type.String(),
    owner_id: nullable(Type.String({ description: 'Null for a system connection.' })),
    kind: stringEnum(KINDS),
    status: stringEnum(STATUSES, '`degraded`: refreshes are failing for a transient reason and are retried; `needs_reauth`: the user must reconnect.'),
    status_reason: nullable(Type.String()),
    account_id: nullable(Type.String({ description: "The account at the provider (OpenID Connect `sub` or the provider's user id)." })),
    account_label: nullable(Type.String()),
    token_type: nullable(Type.String()),
    scopes: nullable(Type.Array(Type.String())),
    expires_at: nullable(DateTime('When the current access token expires.')),
    last_refresh_at: nullable(DateTime()),
    failure_count: Type.Integer({ minimum: 0, description: 'Refresh failures in a row.' }),
    next_attempt_at: nullable(DateTime('Before this time no refresh is attempted (cooling down after failures).')),
    last_error: nullable(Type.Object({ code: Type.String(), message: nullable(Type.String()) })),
    metadata: FreeObject("The caller's own JSON, as imported."),
    created_at: DateTime(),
    updated_at: DateTime(),
  },
  { $id: 'Connection', description: 'An end user’s (or the system’s) connection to a provider account. Never includes a token.' },
);
export type Connection = Static<typeof Connection>;

export const ConnectionList = Type.Object({
  data: Type.Array(ref(Connection)),
  next: nullable(Type.String({ description: 'Pass as `after` for the next page; null on the last page.' })),
});

export const ConnectionListQuery = Type.Object(
  {
    integration: Type.Optional(Type.String({ maxLength: 100, description: 'Only connections of this integration key.' })),
    owner_id: Type.Optional(OwnerId('only connections of this owner.')),
    status: Type.Optional(stringEnum(STATUSES)),
    kind: Type.Optional(stringEnum(KINDS)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: 'Page size; default 100.' })),
    after: Type.Optional(Type.String({ maxLength: 200, description: 'The `next` cursor of the previous page.' })),
  },
  { additionalProperties: false },
);

export const ConnectionDeleted = Type.Object({
  deleted: Type.Boolean(),
  revoked_at_provider: Type.Boolean({ description: 'Whether the provider confirmed the revocation (RFC 7009); the connection is deleted either way.' }),
  revocation_error: nullable(Type.String({ description: 'Why the revocation at the provider failed or was not possible.' })),
});

const tokenString = (description: string, writeOnly = false) =>
  nullable(Type.String({ minLength: 1, maxLength: 16_384, description, ...(writeOnly ? { writeOnly: true } : {}) }));

/**
 * `POST /v1/connections`. Each field is checked here; the rules between fields (an owner for a
 * user connection and none for a system one, `expires_in` or `expires_at` but not both, times
 * that can be stored, metadata depth and size) in `importConnection`.
 */
export const ConnectionImport = Type.Object(
  {
    integration: Type.String({ minLength: 1, maxLength: 100, description: 'The integration key.' }),
    owner_id: Type.Optional(nullable(OwnerId('required for a user connection; none for a system one.'))),
    kind: Type.Optional(stringEnum(KINDS, 'Default `user`.')),
    access_token: Type.String({ minLength: 1, maxLength: 16_384, writeOnly: true, description: 'Stored encrypted; returned only by the token routes.' }),
    refresh_token: Type.Optional(tokenString('Stored encrypted; never returned.', true)),
    id_token: Type.Optional(tokenString('Stored encrypted; never returned.', true)),
    token_type: Type.Optional(tokenString('Default `Bearer`.')),
    expires_in: Type.Optional(nullable(Type.Number({ exclusiveMinimum: 0, description: 'Seconds from now; give this or `expires_at`.' }))),
    // A string here; whether it is a date-time that can be stored is `importConnection`'s to say.
    expires_at: Type.Optional(nullable(Type.String({ maxLength: 100, description: 'An ISO 8601 date-time, e.g. 2030-01-31T12:00:00Z; give this or `expires_in`.' }))),
    scopes: Type.Optional(Type.Union([ScopeList(), Type.Null()])),
    account_id: Type.Optional(tokenString('The account at the provider; importing the same owner and account again updates that connection.')),
    account_label: Type.Optional(tokenString('A readable name for the account (an e-mail address).')),
    metadata: Type.Optional(
      Type.Unsafe<Record<string, unknown> | null>({
        type: ['object', 'null'],
        additionalProperties: true,
        description: 'Your own JSON, returned as given: at most 8 KiB, nested at most 8 levels.',
      }),
    ),
  },
  { additionalProperties: false },
);
