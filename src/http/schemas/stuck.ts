import Type, { type Static } from 'typebox';
import { DateTime, nullable, ref, stringEnum } from './schema-builders.ts';

const STATES = ['connect_session', 'degraded', 'needs_reauth'] as const;
const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH'] as const;

/** A stuck connection (`stuckConnectionToJson`). */
export const StuckConnection = Type.Object(
  {
    id: Type.String({ description: 'The connection id (`con_…`), or the connect session id (`cs_…`) for `connect_session`.' }),
    state: stringEnum(
      STATES,
      '`connect_session`: a connect session started and never completed; `degraded`: refreshes failing for a temporary reason; `needs_reauth`: the user must reconnect.',
    ),
    connection_id: nullable(Type.String({ description: 'Null for a connect session.' })),
    integration: Type.String({ description: 'The integration key.' }),
    provider: Type.String(),
    owner_id: nullable(Type.String({ description: 'Null for a system connection.' })),
    kind: stringEnum(['user', 'system'] as const),
    severity: stringEnum(SEVERITIES),
    terminal: Type.Boolean({ description: 'It will not recover without a person (its user): `needs_reauth`.' }),
    since: DateTime('When it entered the state (the session’s start, the status change).'),
    stuck_for_seconds: Type.Integer({ minimum: 0, description: 'How long it has been in the state.' }),
    threshold_seconds: Type.Integer({ description: 'How long the state may last before it counts as stuck (TOKENKEEPER_STUCK_*_AFTER).' }),
    reason: nullable(Type.String({ description: 'Why, if known: the status reason or the last error.' })),
    action: Type.String({ description: 'What would unstick it, in words.' }),
    reconnect: nullable(
      Type.Object(
        {
          integration: Type.String(),
          owner_id: nullable(Type.String()),
          kind: stringEnum(['user', 'system'] as const),
        },
        { description: 'When only the user can help: the body of `POST /v1/connect/sessions` that gives them a new connect link.' },
      ),
    ),
  },
  { $id: 'StuckConnection', description: 'A connection (or connect session) stuck in a state longer than its threshold.' },
);
export type StuckConnection = Static<typeof StuckConnection>;

export const StuckConnectionList = Type.Object({
  data: Type.Array(ref(StuckConnection)),
  thresholds: Type.Object(
    { connect_session_seconds: Type.Integer(), degraded_seconds: Type.Integer(), needs_reauth_seconds: Type.Integer() },
    { description: 'The thresholds in force.' },
  ),
});

export const StuckConnectionQuery = Type.Object(
  {
    severity: Type.Optional(stringEnum(SEVERITIES)),
    terminal: Type.Optional(Type.Boolean({ description: '`true`: only those that need their user; `false`: only the others.' })),
    state: Type.Optional(stringEnum(STATES)),
  },
  { additionalProperties: false },
);
