import type { CliIo } from './io.ts';

export interface Progress {
  update(done: number, total: number, label: string): void;
  finish(): void;
}

const WIDTH = 30;

/**
 * Progress on stderr, so stdout stays the command's result. On a terminal one bar is redrawn in
 * place (carriage return + erase line); anywhere else (a CI log, a file) a plain line per update,
 * because redraw sequences turn a log into noise.
 */
export function createProgress(io: CliIo, title: string): Progress {
  let drawn = false;
  return {
    update(done, total, label) {
      const ratio = total === 0 ? 1 : Math.min(1, done / total);
      const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
      if (io.stderrIsTTY) {
        const filled = Math.round(ratio * WIDTH);
        io.stderr(`\r\x1b[2K${title} [${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}] ${percent} ${done}/${total} ${label}`);
        drawn = true;
      } else {
        io.stderr(`${title}: ${done}/${total} (${percent.trim()}) ${label}\n`);
      }
    },
    finish() {
      if (drawn) io.stderr('\n');
      drawn = false;
    },
  };
}
