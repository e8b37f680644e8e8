import Type, { type Static } from 'typebox';
import { OwnerId } from './owner-id.ts';
import { DateTime, nullable, stringEnum } from './schema-builders.ts';

const tokenProperties = {
  access_token: Type.String({ description: 'The access token, to send to the provider as `Authorization: <token_type> <access_token>`.' }),
  token_type: Type.String({ description: 'Usually `Bearer`.' }),
  expires_at: nullable(DateTime('When the token expires; null when the provider gave no lifetime (it is served until refused).')),
  expires_in: nullable(Type.Integer({ minimum: 0, description: 'Seconds left when this answer was made; null when the lifetime is unknown.' })),
  scopes: nullable(Type.Array(Type.String(), { description: 'The granted scopes, when the provider said.' })),
  connection_id: Type.String({ description: 'The connection the token belongs to.' }),
};

/** A token valid for at least the requested time (`GET /v1/connections/{id}/token`, `POST …/refresh`). */
export const Token = Type.Object(tokenProperties, { $id: 'Token', description: 'An access token, valid for at least the requested time.' });
export type Token = Static<typeof Token>;

/** `GET /v1/integrations/{key}/token`: a token and which connection answered. */
export const OwnerToken = Type.Object(
  {
    ...tokenProperties,
    source: stringEnum(['owner', 'system'], "`owner`: the owner's own connection; `system`: the integration's system connection (with `fallback=system`)."),
  },
  { $id: 'OwnerToken', description: "An owner's token, or the integration's system token." },
);
export type OwnerToken = Static<typeof OwnerToken>;

/** `min_validity`, shared by both token routes. */
export const MinValidity = Type.Integer({
  minimum: 0,
  maximum: 86_400,
  description: 'Seconds the token must stay valid; default: the integration’s refresh buffer. Longer than a fresh token lives is `min_validity_unsatisfiable`.',
});

export const TokenQuery = Type.Object({ min_validity: Type.Optional(MinValidity) }, { additionalProperties: false });

export const OwnerTokenQuery = Type.Object(
  {
    owner_id: Type.Optional(OwnerId('whose token; leave out for the system token.')),
    fallback: Type.Optional(
      Type.Unsafe<'system' | 'none'>({ type: 'string', enum: ['system', 'none'], default: 'none', description: '`system`: use the system connection when the owner has no usable one.' }),
    ),
    min_validity: Type.Optional(MinValidity),
  },
  { additionalProperties: false },
);
