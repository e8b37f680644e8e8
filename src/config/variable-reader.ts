import type { ConfigProblem } from './config-error.ts';
import { configVariables } from './config-variables.ts';

export interface VariableSource {
  /** The sanitized, non-empty value. */
  value: string;
  /** The `.env` file it came from, or null for the process environment. */
  file: string | null;
}

const SECRET_NAMES = new Set(configVariables.filter((variable) => variable.secret).map((variable) => variable.name));
const TRUE_WORDS = new Set(['true', '1', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'off']);
const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 };

/**
 * Typed reads of sanitized variables. A wrong value records a problem (naming the variable, what
 * is wrong, how to fix it, and the `.env` file when it came from one) and returns the fallback
 * only so that checking can go on: `loadConfig` throws if any problem was recorded, so the
 * fallback never reaches a running service.
 */
export class VariableReader {
  readonly #values: ReadonlyMap<string, VariableSource>;
  readonly #malformed: ReadonlySet<string>;
  readonly problems: ConfigProblem[] = [];

  /**
   * `malformed`: variables whose `.env` line could not be read, a problem already recorded for
   * each. They read as unset, and nothing more is recorded against them: "is required in
   * production" about a variable that is set, or a cross-check against its fallback, would only
   * bury the one real mistake.
   */
  constructor(values: ReadonlyMap<string, VariableSource>, malformed: ReadonlySet<string> = new Set()) {
    this.#values = values;
    this.#malformed = malformed;
  }

  has(name: string): boolean {
    return this.#values.has(name);
  }

  /** Whether a problem is recorded for the variable, here or for its `.env` line. */
  hasProblem(name: string): boolean {
    return this.#malformed.has(name) || this.problems.some((problem) => problem.variable === name);
  }

  fail(name: string, message: string): void {
    if (this.#malformed.has(name)) return;
    const file = this.#values.get(name)?.file;
    this.problems.push({ variable: name, message: file ? `${message} (set in ${file})` : message });
  }

  /** The value in quotes for an error message, or a placeholder for secrets. */
  shown(name: string): string {
    const value = this.#values.get(name)?.value ?? '';
    if (SECRET_NAMES.has(name)) return '(value hidden)';
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  }

  string(name: string): string | null {
    return this.#values.get(name)?.value ?? null;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.string(name);
    if (value === null) return fallback;
    const lower = value.toLowerCase();
    const match = allowed.find((option) => option === lower);
    if (match !== undefined) return match;
    const guess = allowed.find((option) => lower.length >= 3 && option.startsWith(lower));
    this.fail(name, `${this.shown(name)} is not one of ${allowed.join(', ')}${guess ? `; did you mean ${guess}?` : ''}`);
    return fallback;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.string(name);
    if (value === null) return fallback;
    const lower = value.toLowerCase();
    if (TRUE_WORDS.has(lower)) return true;
    if (FALSE_WORDS.has(lower)) return false;
    this.fail(name, `${this.shown(name)} is not a boolean; use true/false, 1/0 or on/off`);
    return fallback;
  }

  integer(name: string, fallback: number, range: { min: number; max: number; unit: string }): number {
    const value = this.string(name);
    if (value === null) return fallback;
    if (!/^\d+$/.test(value)) {
      this.fail(name, `${this.shown(name)} is not a whole number of ${range.unit}; use ${range.min}-${range.max}`);
      return fallback;
    }
    const number = Number(value);
    if (number < range.min || number > range.max) {
      this.fail(name, `${value} is out of range; use ${range.min}-${range.max} ${range.unit}`);
      return fallback;
    }
    return number;
  }

  /**
   * A duration in seconds: a whole number of seconds (`300`) or a number with a unit, `s`, `m`,
   * `h` or `d` (`30s`, `5m`, `6h`, `1d`); returns seconds.
   */
  duration(name: string, fallbackSeconds: number, range: { min: number; max: number }): number {
    const value = this.string(name);
    if (value === null) return fallbackSeconds;
    const match = /^(\d+)\s*(s|m|h|d)?$/i.exec(value);
    if (!match) {
      this.fail(name, `${this.shown(name)} is not a duration; use seconds (300) or a number with s, m, h or d (30s, 5m, 6h, 1d)`);
      return fallbackSeconds;
    }
    const seconds = Number(match[1]) * DURATION_UNITS[(match[2] ?? 's').toLowerCase()]!;
    if (seconds < range.min || seconds > range.max) {
      this.fail(name, `${value} is out of range; use ${range.min}-${range.max} seconds`);
      return fallbackSeconds;
    }
    return seconds;
  }

  port(name: string, fallback: number): number {
    const value = this.string(name);
    if (value === null) return fallback;
    const number = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
    if (!(number >= 1 && number <= 65535)) {
      this.fail(name, `${this.shown(name)} is not a port number (1-65535)`);
      return fallback;
    }
    return number;
  }
}
