/** Where log lines go: one complete line (ending in a newline) per call. */
export interface LogSink {
  write(line: string): void;
}
