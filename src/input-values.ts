/** Small checks shared by the API's input validators. */

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * Scopes as a client may send them: an array of scope tokens, or one string separated by spaces
 * or commas. Returns null when the value is neither.
 */
export function parseScopeList(value: unknown): string[] | null {
  if (typeof value === 'string') return value.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string' && item.length > 0 && !/\s/.test(item))) {
    return value as string[];
  }
  return null;
}
