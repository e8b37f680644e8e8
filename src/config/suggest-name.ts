import { editDistance } from '../edit-distance.ts';
import { VARIABLE_PREFIX } from './config-variables.ts';

/**
 * The known name an unknown one was most likely meant to be, or null if none is close.
 * Names are compared without the `TOKENKEEPER_` prefix and case-insensitively. Close means a
 * small edit distance (`PROT` for `PORT`, `ENCRYPTON_KEYS`) or one name containing the other
 * (`ENCRYPTION_KEY` for `ENCRYPTION_KEYS`, `SWEEP_INTERVAL_SECONDS` for `SWEEP_INTERVAL`,
 * `TOKENKEEPER_DATABASE_URL` for `DATABASE_URL`).
 */
export function suggestName(unknown: string, known: readonly string[]): string | null {
  const target = stripPrefix(unknown.toUpperCase());
  let best: string | null = null;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const name of known) {
    const candidate = stripPrefix(name);
    const shorter = Math.min(candidate.length, target.length);
    const contains = shorter >= 4 && (candidate.includes(target) || target.includes(candidate));
    const distance = editDistance(target, candidate);
    const tolerance = Math.max(2, Math.ceil(candidate.length / 4));
    if (!contains && distance > tolerance) continue;
    const score = contains ? Math.min(distance, 1 + Math.abs(candidate.length - target.length) / 10) : distance;
    if (score < bestScore) {
      bestScore = score;
      best = name;
    }
  }
  return best;
}

function stripPrefix(name: string): string {
  return name.startsWith(VARIABLE_PREFIX) ? name.slice(VARIABLE_PREFIX.length) : name;
}
