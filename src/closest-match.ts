import { editDistance } from './edit-distance.ts';

/**
 * The candidate a mistyped word was most likely meant to be (`tokenkeeper doctr` → `doctor`,
 * `--nmae` → `--name`, the setting `tenat` → `tenant`), or null when nothing is close: a small edit distance relative to the
 * word's length, or one being a prefix of the other (`integ` → `integrations`).
 */
export function closestMatch(word: string, candidates: readonly string[]): string | null {
  const target = word.toLowerCase();
  let best: string | null = null;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const lower = candidate.toLowerCase();
    const distance = editDistance(target, lower);
    const isPrefix = target.length >= 3 && lower.startsWith(target);
    const tolerance = Math.max(1, Math.floor(lower.length / 3));
    if (!isPrefix && distance > tolerance) continue;
    const score = isPrefix ? 0.5 : distance;
    if (score < bestScore) {
      bestScore = score;
      best = candidate;
    }
  }
  return best;
}
