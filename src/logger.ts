import pino, { type ChildLoggerOptions, type DestinationStream, type Logger as PinoLogger, type LoggerOptions as PinoOptions } from 'pino';
import { currentRequestId, prettyStream, redact, redactError, redactField, redactText, type LogSink } from './logging/index.ts';

/**
 * The application's logger: one pino instance, shared with Fastify's request logging (so a
 * request's lines and the domain's lines are one stream with one redaction), behind the small
 * `Logger` interface the codebase uses. One JSON object per line in production; in development
 * the same lines formatted as `level message  key=value …`.
 *
 * Secrets never reach it by design (callers log ids, not tokens); as a second line of defence
 * every line is redacted by field name and value shape (`logging/redact.ts`), and every line
 * logged while an HTTP request's work runs carries that request's `request_id`.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type { LogSink };
export { redact };

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
  /** Default: standard error. */
  sink?: LogSink;
  /** Fields on every line. */
  base?: Record<string, unknown>;
}

/** Set on a logger already bound to one request's id (Fastify's `request.log`). */
const BOUND_TO_REQUEST = Symbol('tokenkeeper.boundToRequest');
const pinoOfLogger = new WeakMap<Logger, PinoLogger>();

/** The keys Fastify logs its own objects under; their serializers below make them safe. */
const SERIALIZED_KEYS = new Set(['req', 'res', 'err']);

const serializers = {
  req: (request: { method?: string; url?: string }) => ({ method: request.method, url: typeof request.url === 'string' ? redactText(request.url) : undefined }),
  res: (reply: { statusCode?: number }) => ({ status_code: reply.statusCode }),
  err: (error: unknown) => (error instanceof Error ? redactError(error) : redact(error)),
};

function pinoOptions(level: string): PinoOptions {
  return {
    level,
    base: null,
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers,
    formatters: {
      level: (label) => ({ level: label }),
      log: (fields) => {
        const out: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(fields)) {
          out[key] = SERIALIZED_KEYS.has(key) && value !== null && typeof value === 'object' ? value : redactField(key, value);
        }
        return out;
      },
    },
    // Explicit fields win over the mixin (pino's default merge), so a line that names its request keeps it.
    mixin: (_fields, _level, logger) => {
      if ((logger as unknown as Record<symbol, unknown>)[BOUND_TO_REQUEST]) return {};
      const requestId = currentRequestId();
      return requestId === undefined ? {} : { request_id: requestId };
    },
    hooks: {
      // Messages are redacted like fields: Fastify's own messages can quote a URL.
      logMethod(args, method) {
        for (let i = 0; i < args.length; i++) if (typeof args[i] === 'string') args[i] = redactText(args[i] as string);
        return method.apply(this, args as Parameters<typeof method>);
      },
    },
  };
}

function wrap(instance: PinoLogger): Logger {
  const logger: Logger = {
    debug: (message, fields) => (fields === undefined ? instance.debug(message) : instance.debug(fields, message)),
    info: (message, fields) => (fields === undefined ? instance.info(message) : instance.info(fields, message)),
    warn: (message, fields) => (fields === undefined ? instance.warn(message) : instance.warn(fields, message)),
    error: (message, fields) => (fields === undefined ? instance.error(message) : instance.error(fields, message)),
    // pino runs its `bindings` formatter for the root only: a child's fields are redacted here.
    child: (fields) => wrap(instance.child(redact(fields) as Record<string, unknown>)),
  };
  pinoOfLogger.set(logger, instance);
  return logger;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? 'json';
  const sink: LogSink = options.sink ?? { write: (line) => process.stderr.write(line) };
  const stream: DestinationStream = format === 'pretty' ? prettyStream(sink) : sink;
  const instance = pino(pinoOptions(options.level ?? 'info'), stream);
  const root = wrap(instance);
  return options.base && Object.keys(options.base).length > 0 ? root.child(options.base) : root;
}

/**
 * The pino instance behind a logger, for Fastify's `loggerInstance`. A `Logger` that an
 * embedding application wrote itself gets a pino instance that forwards every line to it
 * (after the same redaction), so requests are logged wherever the application logs.
 */
export function pinoLoggerOf(logger: Logger): PinoLogger {
  const known = pinoOfLogger.get(logger);
  if (known) return known;
  const forwarding = pino(pinoOptions('debug'), {
    write(line: string): void {
      const { level, time: _time, msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
      const method = level === 'trace' ? 'debug' : level === 'fatal' ? 'error' : (level as LogLevel);
      logger[method](String(msg ?? ''), fields);
    },
  });
  pinoOfLogger.set(logger, forwarding);
  return forwarding;
}

/**
 * Fastify's per-request logger (its `childLoggerFactory`): a child bound to the request id, so
 * the request's lines carry it even where its asynchronous context is lost (a response's
 * `finish` event); marked so that the request-context mixin does not add the id a second time.
 * On the hot path of every request: the bindings are only the id, checked by `requestIdOf`.
 */
export function requestChildLogger(parent: PinoLogger, bindings: Record<string, unknown>, options?: ChildLoggerOptions): PinoLogger {
  const child = parent.child(bindings, options);
  (child as unknown as Record<symbol, unknown>)[BOUND_TO_REQUEST] = true;
  return child;
}

/** A logger that keeps every line (JSON) in memory, for tests that scan logs for secrets. */
export function createMemoryLogger(level: LogLevel = 'debug'): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ level, format: 'json', sink: { write: (line) => lines.push(line) } });
  return Object.assign(logger, { lines });
}
