import Type from 'typebox';
import { stringEnum } from './schema-builders.ts';

/** `GET /health`: the same shape for 200 and 503, so a load balancer and a person read one thing. */
export const Health = Type.Object(
  {
    status: stringEnum(['ok', 'unavailable']),
    version: Type.String(),
    storage: Type.Object({ status: stringEnum(['ok', 'unreachable']), dialect: Type.String({ description: 'The storage in use.' }) }),
  },
  { $id: 'Health', description: 'Whether this instance can serve: its storage is reachable.' },
);
