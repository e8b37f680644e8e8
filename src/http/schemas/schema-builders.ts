import Type, { type Static, type TSchema, type TUnsafe } from 'typebox';

/**
 * Small builders on top of TypeBox for the two shapes it spells in a way that costs us: a
 * nullable value and a reference to a shared schema.
 *
 * `nullable` writes `type: ['string', 'null']` rather than TypeBox's `anyOf`, because
 * fast-json-stringify serializes a type list directly but tries each `anyOf` branch in turn,
 * and Ajv's coercion can turn `0` or `false` into `null` through an `anyOf` (Fastify's
 * validation docs warn about exactly this).
 */
export function nullable<T extends TSchema>(schema: T): TUnsafe<Static<T> | null> {
  const { type, ...rest } = schema as TSchema & { type?: unknown; enum?: unknown[] };
  if (typeof type !== 'string') throw new TypeError('nullable() takes a schema with one `type`');
  const nullableSchema: Record<string, unknown> = { ...rest, type: [type, 'null'] };
  if (Array.isArray(rest.enum)) nullableSchema.enum = [...rest.enum, null];
  return Type.Unsafe<Static<T> | null>(nullableSchema);
}

/**
 * A `$ref` to a schema registered with `app.addSchema` under its `$id`, typed as that schema.
 * The OpenAPI document turns these into `#/components/schemas/<$id>`, so shared shapes are
 * named once there too. `description` becomes the response's description when used as one.
 */
export function ref<T extends TSchema>(schema: T, description?: string): TUnsafe<Static<T>> {
  const id = (schema as { $id?: unknown }).$id;
  if (typeof id !== 'string') throw new TypeError('ref() takes a schema with an $id');
  return Type.Unsafe<Static<T>>(description === undefined ? { $ref: id } : { $ref: id, description });
}

/** An ISO 8601 date-time as the API writes it (`Date.prototype.toISOString`, always UTC). */
export const DateTime = (description?: string) => Type.String({ format: 'date-time', ...(description ? { description } : {}) });

/** The caller's own JSON object, returned as given (connection metadata, provider settings). */
export const FreeObject = (description: string) => Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true, description });

/** One of a few strings, as `{ type: 'string', enum }`: documented as a list, checked and serialized as a string. */
export function stringEnum<const T extends readonly string[]>(values: T, description?: string): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...(description ? { description } : {}) });
}
