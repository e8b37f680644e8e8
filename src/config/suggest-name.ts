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

/** Levenshtein distance with adjacent transpositions counted as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
      }
    }
  }
  return d[a.length]![b.length]!;
}
