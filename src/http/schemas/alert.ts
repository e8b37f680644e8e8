import Type, { type Static } from 'typebox';
import { DateTime, nullable, ref, stringEnum } from './schema-builders.ts';

const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH'] as const;
const NAME_PATTERN = '^[a-z][a-z0-9_.-]{0,63}$';

const StringMap = (description: string) =>
  Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string' }, description });
const CountMap = (description: string) => Type.Unsafe<Record<string, number>>({ type: 'object', additionalProperties: { type: 'integer' }, description });

/** An operator alert (`alertToJson`). */
export const Alert = Type.Object(
  {
    id: Type.String(),
    type: Type.String({ description: 'What happened, e.g. `connection_needs_reauth`, `connection_stuck`, `channel_failing`.' }),
    key: Type.String({ description: 'Which thing it happened to (a connection id, an integration key, a channel). With `type`, the alert’s identity.' }),
    severity: stringEnum(SEVERITIES, 'Now: a MEDIUM alert firing longer than TOKENKEEPER_ALERT_ESCALATE_AFTER has become HIGH.'),
    state: stringEnum(['firing', 'resolved'] as const),
    labels: StringMap('integration, provider, owner, connection, …'),
    summary: Type.String(),
    group_key: Type.String({ description: 'The notification group: the type and the grouping labels.' }),
    first_seen_at: DateTime('When it began firing (this time).'),
    last_seen_at: DateTime('When its condition was last reported.'),
    resolved_at: nullable(DateTime()),
    last_notified_at: nullable(DateTime()),
    notification_count: Type.Integer({ minimum: 0, description: 'Notifications that carried it.' }),
    escalated: Type.Boolean(),
    silenced: Type.Boolean({ description: 'A silence in force matches it: it is recorded, not sent.' }),
  },
  { $id: 'Alert', description: 'An operator alert, identified by (type, key).' },
);
export type Alert = Static<typeof Alert>;

export const AlertList = Type.Object({ data: Type.Array(ref(Alert)) });

export const AlertListQuery = Type.Object(
  {
    state: Type.Optional(stringEnum(['firing', 'resolved'] as const)),
    severity: Type.Optional(stringEnum(SEVERITIES)),
    type: Type.Optional(Type.String({ maxLength: 64, pattern: NAME_PATTERN, description: 'an alert type (lower-case letters, digits and _ . -)' })),
    since: Type.Optional(
      Type.String({
        maxLength: 40,
        description: 'Only alerts active since then (firing, or last seen or resolved at or after it): an ISO 8601 date-time with a time zone, or epoch seconds.',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: 'At most this many, most recently seen first; default 100.' })),
  },
  { additionalProperties: false },
);

export const AlertStatsQuery = Type.Object(
  { hours: Type.Integer({ minimum: 1, maximum: 720, default: 24, description: 'The window: the last this many hours (1-720); default 24.' }) },
  { additionalProperties: false },
);

const ChannelStats = Type.Object({
  sent: Type.Integer({ description: 'Notifications delivered.' }),
  silenced: Type.Integer({ description: 'Notifications a silence held back (recorded, not sent).' }),
  failed_deliveries: Type.Integer({ description: 'Failed delivery attempts (each failed retry counts).' }),
  undelivered: Type.Integer({ description: 'Notifications whose every attempt failed (the console fallback printed them).' }),
  pending: Type.Integer({ description: 'Notifications waiting for a first attempt or a retry.' }),
});

export const AlertStats = Type.Object(
  {
    hours: Type.Integer(),
    since: DateTime(),
    until: DateTime(),
    alerts: Type.Object({
      active: Type.Integer({ description: 'Alerts firing at some time in the window (firing now, or resolved in it).' }),
      firing: Type.Integer({ description: 'Of them, firing now.' }),
      fired: Type.Integer({ description: 'Of them, began firing in the window.' }),
      resolved: Type.Integer({ description: 'Of them, resolved in the window.' }),
      by_type: CountMap('Active alerts by type.'),
      by_severity: Type.Object({ LOW: Type.Integer(), MEDIUM: Type.Integer(), HIGH: Type.Integer() }, { description: 'Active alerts by their severity now.' }),
    }),
    notifications: Type.Object(
      {
        ...ChannelStats.properties,
        suppressed_by_deduplication: Type.Integer({
          description: 'Raises of an alert that was already firing, merged into it rather than becoming a new alert and a notification (counted per minute).',
        }),
        by_channel: Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: ChannelStats, description: 'The same counts per channel.' }),
        tests: Type.Object({ sent: Type.Integer(), failed: Type.Integer() }, { description: 'Test notifications (`POST /v1/alerts/test`), not counted above.' }),
      },
      { description: 'Per channel delivery (one notification to one channel), for notifications written in the window.' },
    ),
  },
  { description: 'What the alerts did over the window.' },
);
export type AlertStats = Static<typeof AlertStats>;

export const AlertTestReport = Type.Object({
  id: Type.String({ description: 'The test notification’s id (the `webhook-id` of the webhook delivery).' }),
  sent_at: DateTime(),
  ok: Type.Boolean({ description: 'Every channel delivered it.' }),
  results: Type.Array(
    Type.Object({
      channel: Type.String({ description: '`console`, `webhook`, `slack`, `email`, `sms` or `pagerduty`.' }),
      target: Type.String({ description: 'Where it sends (an origin, an SMTP host, recipient counts); never a secret.' }),
      min_severity: stringEnum(SEVERITIES),
      ok: Type.Boolean(),
      error: nullable(Type.String({ description: 'Why it failed, without secrets.' })),
      duration_ms: Type.Integer(),
    }),
  ),
});
export type AlertTestReport = Static<typeof AlertTestReport>;

const SilenceMatchers = Type.Object(
  {
    type: nullable(Type.String()),
    key: nullable(Type.String({ description: 'One alert’s key (with `type`: exactly that alert).' })),
    severity: nullable(stringEnum(SEVERITIES)),
    labels: StringMap('Label values an alert must have.'),
  },
  { description: 'An alert is silenced when it matches every matcher given.' },
);

export const Silence = Type.Object(
  {
    id: Type.String(),
    matchers: SilenceMatchers,
    global: Type.Boolean({ description: 'A global silence (`POST /v1/silences/all`): no matcher, every alert.' }),
    state: stringEnum(['active', 'pending', 'expired'] as const, '`pending`: starts later; `expired`: ended or expired by hand (kept for history).'),
    starts_at: DateTime(),
    ends_at: DateTime(),
    created_by: Type.String(),
    comment: Type.String(),
    created_at: DateTime(),
    expired_at: nullable(DateTime('When it was expired by hand.')),
  },
  { $id: 'Silence', description: 'Alerts matching it between `starts_at` and `ends_at` are recorded but not sent.' },
);
export type Silence = Static<typeof Silence>;

export const SilenceList = Type.Object({ data: Type.Array(ref(Silence)) });

export const SilenceListQuery = Type.Object(
  {
    state: Type.Optional(stringEnum(['active', 'pending', 'expired'] as const)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: 'At most this many, newest first; default 100.' })),
  },
  { additionalProperties: false },
);

const createdBy = Type.String({ minLength: 1, maxLength: 200, description: 'Who asks for it (a name, an e-mail address); default `api`.' });
const comment = Type.String({ maxLength: 1000, description: 'Why, for whoever reads the list.' });

export const SilenceCreate = Type.Object(
  {
    matchers: Type.Object(
      {
        type: Type.Optional(Type.String({ maxLength: 64, pattern: NAME_PATTERN, description: 'an alert type (lower-case letters, digits and _ . -)' })),
        key: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'one alert’s key, e.g. a connection id; with `type`, exactly that alert' })),
        severity: Type.Optional(stringEnum(SEVERITIES)),
        labels: Type.Optional(
          Type.Unsafe<Record<string, string>>({
            type: 'object',
            additionalProperties: { type: 'string', maxLength: 200 },
            maxProperties: 20,
            description: 'label values, e.g. {"integration": "google"}',
          }),
        ),
      },
      { additionalProperties: false, description: 'At least one of `type`, `key`, `severity`, `labels`; every one given must match.' },
    ),
    starts_at: Type.Optional(DateTime('Default now.')),
    ends_at: DateTime('After `starts_at` and in the future.'),
    comment: Type.Optional(comment),
    created_by: Type.Optional(createdBy),
  },
  { additionalProperties: false },
);

export const GlobalSilenceCreate = Type.Object(
  {
    ends_at: DateTime('When alerts are sent again (in the future).'),
    comment: Type.Optional(comment),
    created_by: Type.Optional(createdBy),
  },
  { additionalProperties: false },
);

export const GlobalSilenceRestored = Type.Object({
  expired: Type.Integer({ description: 'Global silences ended (those in force or still to start); 0 if there was none.' }),
});

export const SilenceIdParams = Type.Object(
  { id: Type.String({ pattern: '^sil_[a-z2-7]{20}$', description: 'a silence id (sil_ and 20 characters from a-z and 2-7)' }) },
  { additionalProperties: false },
);
