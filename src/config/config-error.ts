export interface ConfigProblem {
  /** The environment variable (or `.env` line) at fault. */
  variable: string;
  /** What is wrong and how to fix it. Never contains a secret's value. */
  message: string;
}

/**
 * Thrown by `loadConfig` when anything is wrong, listing every problem at once (one per line,
 * each starting with the variable) so an operator fixes them in one round instead of one per
 * restart.
 */
export class ConfigError extends Error {
  readonly code = 'config_invalid';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(
      `Invalid Tokenkeeper configuration (${count}; see docs/configuration.md):\n` +
        problems.map((problem) => `  ${problem.variable}: ${problem.message}`).join('\n'),
    );
    this.name = 'ConfigError';
    this.problems = Object.freeze(problems.map((problem) => Object.freeze({ ...problem })));
  }
}
