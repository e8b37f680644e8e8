import type { LogSink } from './log-sink.ts';

/**
 * Development output without a pretty-printing dependency: pino writes its JSON line, this
 * turns it into `level message  key=value …` on the given sink. The line was redacted before
 * it was written, so formatting cannot reveal anything the JSON would not.
 */
export function prettyStream(sink: LogSink): LogSink {
  return {
    write(line: string): void {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        sink.write(line);
        return;
      }
      const { level, time: _time, msg, ...fields } = entry;
      const rest = Object.entries(fields)
        .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
        .join(' ');
      sink.write(`${String(level).padEnd(5)} ${String(msg ?? '')}${rest ? `  ${rest}` : ''}\n`);
    },
  };
}
