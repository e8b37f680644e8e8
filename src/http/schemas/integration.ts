import Type, { type Static } from 'typebox';
import { listProviders } from '../../providers/index.ts';
import { ScopeList } from './scope-list.ts';
import { DateTime, FreeObject, nullable, ref, stringEnum } from './schema-builders.ts';

/** The public shape of an integration (`integrationToJson`): never the client secret, only whether one is set. */
export const Integration = Type.Object(
  {
    id: Type.String(),
    key: Type.String({ description: 'The key clients use in URLs and bodies.' }),
    provider: Type.String({ description: 'The catalog entry (see `tokenkeeper providers`).' }),
    display_name: nullable(Type.String()),
    client_id: Type.String(),
    has_client_secret: Type.Boolean({ description: 'Whether a client secret is stored (the secret itself is never returned).' }),
    scopes: Type.Array(Type.String()),
    redirect_uri: Type.String({ description: "The OAuth callback registered at the provider; by default this service's /oauth/callback." }),
    settings: FreeObject('Provider-specific settings (tenant, endpoints, …).'),
    refresh_buffer_seconds: Type.Integer({ description: 'Tokens are refreshed this long before they expire.' }),
    system_grant: nullable(stringEnum(['client_credentials'], 'How the system connection gets its token; null: no system connection.')),
    system_scopes: nullable(Type.Array(Type.String())),
    enabled: Type.Boolean(),
    actions_enabled: Type.Boolean({ description: 'The kill switch for actions: false turns every action of this integration off (`501 action_disabled`, nothing sent). The proxy is not affected.' }),
    status: stringEnum(['ok', 'failing', 'disabled'], '`failing`: the provider rejects the integration’s own credentials; `disabled`: turned off by an operator.'),
    failure: nullable(
      Type.Object(
        { code: nullable(Type.String()), message: nullable(Type.String()), since: DateTime() },
        { description: "Set while the provider rejects the integration's own credentials; cleared by any update." },
      ),
    ),
    created_at: DateTime(),
    updated_at: DateTime(),
  },
  { $id: 'Integration', description: 'An OAuth client registration at one provider.' },
);
export type Integration = Static<typeof Integration>;

export const IntegrationList = Type.Object({ data: Type.Array(ref(Integration)) });

/**
 * Fields an update may change. The schema checks each field on its own; the provider-specific
 * settings and the rules between fields are checked by `validateIntegrationInput`.
 */
const changeableFields = {
  display_name: Type.Optional(nullable(Type.String({ maxLength: 200 }))),
  client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  client_secret: Type.Optional(nullable(Type.String({ minLength: 1, maxLength: 2000, writeOnly: true, description: 'Stored encrypted; never returned.' }))),
  scopes: Type.Optional(ScopeList()),
  redirect_uri: Type.Optional(nullable(Type.String({ maxLength: 2000, description: "An absolute http(s) URL (as a browser parses it); null: this service's /oauth/callback." }))),
  settings: Type.Optional(FreeObject('Provider-specific settings, checked against the provider’s catalog entry.')),
  refresh_buffer_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })),
  system_grant: Type.Optional(nullable(stringEnum(['client_credentials']))),
  system_scopes: Type.Optional(Type.Union([ScopeList(), Type.Null()])),
  enabled: Type.Optional(Type.Boolean()),
  actions_enabled: Type.Optional(Type.Boolean({ description: 'false turns every action of this integration off; default true.' })),
};

export const IntegrationCreate = Type.Object(
  {
    key: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', description: 'lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters' }),
    provider: Type.String({ maxLength: 100, description: `A provider from the catalog: ${listProviders().map((provider) => provider.key).join(', ')}; another is \`unknown_provider\`.` }),
    ...changeableFields,
    client_id: Type.String({ minLength: 1, maxLength: 500 }),
  },
  { additionalProperties: false },
);

export const IntegrationUpdate = Type.Object(changeableFields, {
  additionalProperties: false,
  description: 'Only the fields given change. The key and the provider cannot be changed.',
});

export const IntegrationDeleteQuery = Type.Object(
  { force: Type.Optional(Type.Boolean({ default: false, description: 'Delete the integration’s connections too.' })) },
  { additionalProperties: false },
);
