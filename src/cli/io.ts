/**
 * Everything a command touches outside itself, passed in so tests run commands in-process with
 * captured output, their own environment and working directory. `main.ts` builds the real one
 * from the process; nothing else in src/cli/ reads `process.env` (only src/config/ does, through
 * the `env` handed to `loadConfig`).
 */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** The variables `loadConfig` reads (the process environment in real use). */
  env: Record<string, string | undefined>;
  /** Base for relative paths (`.env`, the data dir). */
  cwd: string;
  /**
   * Whole standard input, for `--client-secret-stdin` and `--input-file -`. On a terminal: one
   * line typed without echo (a secret), or with `visible`, that prompt and what is typed until
   * Ctrl-D. Absent: stdin is not available.
   */
  readStdin?(options?: { visible?: string }): Promise<string>;
  /** Redraw a progress bar in place (stderr is a terminal) instead of printing a line per step. */
  stderrIsTTY?: boolean;
  /** Aborted when the user asks a long-running command (`serve`) to stop (Ctrl+C, SIGTERM). */
  signal?: AbortSignal;
}

/** Exit codes: 2 and 78 follow BSD sysexits' EX_USAGE-style "bad invocation" and EX_CONFIG. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_CONFIG = 78;
