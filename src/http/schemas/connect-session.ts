import Type from 'typebox';
import { OwnerId } from './owner-id.ts';
import { DateTime, nullable, stringEnum } from './schema-builders.ts';

/**
 * `POST /v1/connect/sessions`. Each field is checked here; whether an owner is needed (a user
 * connection) or refused (a system one), and whether `redirect_to` is on an allowed origin, in
 * `ConnectFlow.createSession`.
 */
export const ConnectSessionCreate = Type.Object(
  {
    integration: Type.String({ minLength: 1, maxLength: 100, description: 'The integration key.' }),
    owner_id: Type.Optional(nullable(OwnerId('required for a user connection; none for a system one.'))),
    redirect_to: Type.Optional(
      nullable(
        Type.String({
          // No `format`: whether it is an absolute http(s) URL is decided as a browser parses it (`parseReturnUrl`).
          maxLength: 2000,
          description:
            'An absolute http(s) URL: where the callback sends the user back, with `connection_id` and `status` (or `error`) added. Allowed origins: this service, TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS, and loopback in development.',
        }),
      ),
    ),
    kind: Type.Optional(stringEnum(['user', 'system'], 'Default `user`; `system` connects the integration’s own account.')),
  },
  { additionalProperties: false },
);

export const ConnectSession = Type.Object(
  {
    id: Type.String(),
    connect_url: Type.String({ format: 'uri', description: 'Send the user here (a browser redirect or a link); it works once, until `expires_at`.' }),
    expires_at: DateTime(),
    integration: Type.String(),
    owner_id: nullable(Type.String()),
  },
  { $id: 'ConnectSession', description: 'A started connect flow.' },
);
