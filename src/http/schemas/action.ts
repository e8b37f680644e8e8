import Type, { type Static } from 'typebox';
import { ACTION_METHODS } from '../../actions/index.ts';
import { idParam } from './path-params.ts';
import { DateTime, FreeObject, nullable, ref, stringEnum } from './schema-builders.ts';

/** An action as `GET /v1/actions` lists it (`ActionRegistry.toJson`). */
export const Action = Type.Object(
  {
    name: Type.String({ description: '`<provider>.<area>.<verb>`, e.g. `google.gmail.send`.' }),
    description: Type.String(),
    providers: Type.Array(Type.String(), { description: 'The catalog providers whose integrations offer it.' }),
    integrations: nullable(Type.Array(Type.String(), { description: 'Only these integration keys offer it; null: every integration of those providers.' })),
    enabled: Type.Boolean({
      description: 'False when TOKENKEEPER_ACTIONS_DISABLED names it or, in a listing for one integration, when that integration has `actions_enabled: false`.',
    }),
    source: stringEnum(['built-in', 'module'], '`module`: loaded from TOKENKEEPER_ACTIONS_DIR.'),
    available_for: Type.Array(
      Type.Object({ integration: Type.String(), enabled: Type.Boolean({ description: 'False when switched off by name or by the integration’s `actions_enabled`.' }) }),
      { description: 'The configured integrations that offer it, each with whether it is enabled there.' },
    ),
    input_schema: FreeObject('The JSON Schema of its input (also under `components.schemas` as `ActionInput.<name>`).'),
  },
  { $id: 'Action', description: 'A typed operation on a provider API, run through one of a user’s connections.' },
);
export type Action = Static<typeof Action>;

export const ActionList = Type.Object({ data: Type.Array(ref(Action)) });

export const ActionListQuery = Type.Object(
  { integration: Type.Optional(Type.String({ maxLength: 200, description: 'Only the actions this integration offers, with `enabled` as it sees them.' })) },
  { additionalProperties: false },
);

export const ActionParams = Type.Object(
  {
    id: idParam('con', 'a connection'),
    action: Type.String({ maxLength: 200, description: 'The action’s name, e.g. `google.gmail.send`.' }),
  },
  { additionalProperties: false },
);

/**
 * The input: the action's own JSON object (its schema in `GET /v1/actions` and, in the OpenAPI
 * document, under `ActionInput.<name>`), or the same wrapped as `{ "input": { … } }`. Checked
 * by the action, against its schema, with every problem listed.
 */
export const ActionInputBody = Type.Unsafe<unknown>({
  description: 'The action’s input (see `input_schema` in `GET /v1/actions`), or `{ "input": { … } }`.',
});

export const ActionHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      description: 'Makes the execute exactly-once for the caller: its outcome is kept 24 h and a retry with the same key (on any instance) gets it again without sending. 1–255 visible ASCII characters.',
    }),
  ),
});

/** `POST …/preview`: the exact request an execute would send, the token redacted. */
export const ActionPreview = Type.Object(
  {
    action: Type.String(),
    connection_id: Type.String(),
    integration: Type.String(),
    method: stringEnum(ACTION_METHODS),
    url: Type.String({ description: 'The absolute URL: the integration’s API base URL and the action’s path.' }),
    headers: Type.Record(Type.String(), Type.String(), { description: 'Lower-case names; `authorization: Bearer [redacted]` stands for the token.' }),
    body: Type.Unsafe<unknown>({ description: 'The JSON body as JSON, the text of another body, or null.' }),
  },
  { $id: 'ActionPreview', description: 'The request that would be sent; nothing was.' },
);

/** `POST …/execute` when the action succeeded. */
export const ActionExecution = Type.Object(
  {
    action: Type.String(),
    connection_id: Type.String(),
    integration: Type.String(),
    outcome: stringEnum(['ok']),
    provider_status: Type.Integer({ description: 'The provider’s HTTP status.' }),
    result: Type.Unsafe<unknown>({ description: 'What the action read from the provider’s answer, e.g. `{ "id", "threadId" }` for Gmail.' }),
    duration_ms: Type.Integer(),
    executed_at: DateTime(),
    replayed: Type.Boolean({ description: 'True: the stored answer of an earlier execute with this Idempotency-Key; nothing was sent now.' }),
  },
  { $id: 'ActionExecution', description: 'A successful execution. A failed one answers an error whose `details.outcome` is the reason.' },
);
export type ActionExecution = Static<typeof ActionExecution>;
