/**
 * A small structured logger. One JSON object per line in production, a readable line in
 * development. Secrets never reach it by design (callers log ids, not tokens); as a second line
 * of defence, fields whose names look secret are replaced with "[redacted]" and error objects
 * are reduced to name, code and message (an OAuth error's raw response body is never logged).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogSink {
  write(line: string): void;
}

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'json' | 'pretty';
  sink?: LogSink;
  base?: Record<string, unknown>;
}

const SECRET_FIELD = /(token|secret|password|verifier|authorization|cookie|^code$|api_?key|credential|private)/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[depth]';
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    const error = (value as { error?: unknown }).error;
    if (typeof error === 'string') out.error = error;
    return out;
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = SECRET_FIELD.test(key) && item !== null && item !== undefined && typeof item !== 'boolean' && typeof item !== 'number'
        ? '[redacted]'
        : redact(item, depth + 1);
    }
    return out;
  }
  return value;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = LEVELS[options.level ?? 'info'];
  const format = options.format ?? 'json';
  const sink: LogSink = options.sink ?? { write: (line) => process.stderr.write(line) };
  const base = options.base ?? {};

  const log = (level: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (LEVELS[level] < threshold) return;
    const safe = redact({ ...base, ...fields }) as Record<string, unknown>;
    if (format === 'json') {
      sink.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...safe })}\n`);
    } else {
      const rest = Object.entries(safe)
        .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
        .join(' ');
      sink.write(`${level.padEnd(5)} ${message}${rest ? `  ${rest}` : ''}\n`);
    }
  };

  return {
    debug: (message, fields) => log('debug', message, fields),
    info: (message, fields) => log('info', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    error: (message, fields) => log('error', message, fields),
    child: (fields) => createLogger({ ...options, base: { ...base, ...fields } }),
  };
}

/** A logger that keeps every line in memory, for tests that scan logs for secrets. */
export function createMemoryLogger(level: LogLevel = 'debug'): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ level, format: 'json', sink: { write: (line) => lines.push(line) } });
  return Object.assign(logger, { lines });
}
