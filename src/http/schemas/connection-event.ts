import Type from 'typebox';
import { DateTime, FreeObject, nullable, ref } from './schema-builders.ts';

/** One entry of a connection's event log. */
export const ConnectionEvent = Type.Object(
  {
    id: Type.Integer(),
    type: Type.String({ description: 'e.g. `connection.created`, `token.refreshed`, `token.refresh_failed`, `action.executed`.' }),
    integration: nullable(Type.String()),
    data: FreeObject('What happened, by event type; never a token or secret.'),
    created_at: DateTime(),
  },
  { $id: 'ConnectionEvent', description: 'A lifecycle event of a connection.' },
);

export const ConnectionEventList = Type.Object({ data: Type.Array(ref(ConnectionEvent)) });

export const ConnectionEventQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: 'How many events, newest first; default 100.' })) },
  { additionalProperties: false },
);
