import Type from 'typebox';
import { stringEnum } from './schema-builders.ts';

const Storage = Type.Object({
  status: stringEnum(['ok', 'unreachable']),
  dialect: stringEnum(['sqlite', 'postgresql'], 'The database in use: SQLite (one process) or PostgreSQL (`DATABASE_URL`).'),
});

/** A firing HIGH alert as `/health` lists it. */
const HealthAlert = Type.Object({
  type: Type.String({ description: 'The alert type, e.g. `token_expired_while_active` (docs/alerts.md lists the built-in ones).' }),
  key: Type.String({ description: 'What it is about: a connection id, an integration key, a channel, …' }),
  summary: Type.String(),
  since: Type.String({ format: 'date-time', description: 'When it started firing.' }),
});

/** `GET /health`: the same shape for 200 and 503, so a load balancer and a person read one thing. */
export const Health = Type.Object(
  {
    status: stringEnum(
      ['ok', 'degraded', 'unavailable'],
      '`degraded`: the instance serves, but HIGH alerts are firing (listed in `alerts`); `unavailable`: its storage is unreachable.',
    ),
    version: Type.String(),
    storage: Storage,
    alerts: Type.Array(HealthAlert, { description: 'The firing HIGH alerts, most recently seen first (at most 20); empty when none fires or storage is unreachable.' }),
  },
  { $id: 'Health', description: 'Whether this instance can serve (its storage is reachable), and the HIGH alerts firing.' },
);

/** `GET /ready`: the same shape for 200 and 503; the migrations say why an instance with a reachable database is not ready. */
export const Ready = Type.Object(
  {
    status: stringEnum(['ready', 'not_ready']),
    version: Type.String(),
    storage: Storage,
    migrations: Type.Object({
      status: stringEnum(['applied', 'pending', 'unknown'], '`unknown` when the database is unreachable.'),
      pending: Type.Array(Type.String(), { description: 'Migrations this version expects that the database has not applied; run `tokenkeeper migrate`.' }),
    }),
    notifications: Type.Object({
      status: stringEnum(
        ['live', 'down', 'not_used', 'closed'],
        'The cache invalidation channel (PostgreSQL LISTEN/NOTIFY): `down` while it reconnects by itself (caches read the database meanwhile; the instance stays ready); `not_used` on SQLite.',
      ),
    }),
  },
  { $id: 'Ready', description: 'Whether this instance should take traffic: its database is reachable and fully migrated.' },
);
