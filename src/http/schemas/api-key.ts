import Type, { type Static } from 'typebox';
import { DateTime, nullable, ref } from './schema-builders.ts';

const apiKeyProperties = {
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: 'The first characters of the key, to tell keys apart.' }),
  created_at: DateTime(),
  last_used_at: nullable(DateTime()),
  revoked_at: nullable(DateTime()),
};

/** The API's view of a key (`apiKeyToJson`): never the key (shown once, at creation) nor its hash. */
export const ApiKey = Type.Object(apiKeyProperties, { $id: 'ApiKey', description: 'An API key, without the key.' });
export type ApiKey = Static<typeof ApiKey>;

export const ApiKeyList = Type.Object({ data: Type.Array(ref(ApiKey)) });

export const NewApiKey = Type.Object(
  { ...apiKeyProperties, key: Type.String({ description: 'The key: in this answer only, never again.' }) },
  { $id: 'NewApiKey', description: 'A new API key, with the key itself.' },
);

export const ApiKeyCreate = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[\\x20-\\x7e]+$', description: 'printable ASCII characters: what the key is for' }) },
  { additionalProperties: false },
);
