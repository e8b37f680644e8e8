/**
 * An event's payload as the API spells everything else: snake_case keys and ISO 8601 times.
 * Emitters use the codebase's names (`expiresAt`, epoch milliseconds); the event log stores,
 * serves and logs `expires_at: "2030-01-02T03:04:05.678Z"`. A time is a key ending in `At`
 * (`_at`) with a number. Applied again to rows read back, so rows stored in the old shape are
 * shown in the new one (converting a converted payload changes nothing).
 */
export function eventPayload(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    const name = key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
    out[name] = name.endsWith('_at') && typeof value === 'number' && Number.isFinite(value) ? new Date(value).toISOString() : value;
  }
  return out;
}
