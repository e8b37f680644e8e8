import { createRequire } from 'node:module';
import type { FastifySchemaCompiler, FastifyServerOptions } from 'fastify';

type SerializerFactory = NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildSerializer']>;
type SerializerCompiler = ReturnType<SerializerFactory>;
type Serializer = ReturnType<SerializerCompiler>;
type Validate = ((...args: unknown[]) => unknown) & { errors?: unknown; schemaEnv?: unknown };

/**
 * Fastify's own default serializer factory (fast-json-stringify), resolved from where Fastify
 * resolves it, so that the lazy one below compiles exactly what Fastify would have.
 */
function fastifyDefaultSerializerFactory(): SerializerFactory {
  const requireFromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
  const { SerializerSelector } = requireFromFastify('@fastify/fast-json-stringify-compiler') as { SerializerSelector: () => SerializerFactory };
  return SerializerSelector();
}

/** Time left after listen for the first requests (`/ready` among them) before warming up. */
const WARM_UP_DELAY_MS = 1_000;

/**
 * Route schemas compiled when first needed instead of before the server listens. Fastify compiles
 * every route's validators (Ajv) and response serializers (fast-json-stringify) while it gets
 * ready, HEAD twins included: most of a second of CPU spent before `listen`, so before `/ready`
 * can answer, for routes most instances never serve in their first seconds. Here each compiles on
 * its first use, and `warmUp` compiles the rest in the background once the server listens, one
 * schema per turn of the event loop so that requests are served in between.
 *
 * The functions Fastify gets behave as the compiled ones do: a validator's `errors` and
 * `schemaEnv` (Fastify reads them around each call) are those of the compiled validator.
 */
export class LazySchemaCompilers {
  private readonly pending = new Set<() => void>();
  private warming = false;
  private stopped = false;

  /** For Fastify's `schemaController.compilersFactory.buildSerializer`. */
  readonly buildSerializer: SerializerFactory = (externalSchemas, options) => {
    const compile = fastifyDefaultSerializerFactory()(externalSchemas, options);
    return (route) => {
      const compiled = this.once(() => compile(route));
      const serialize: Serializer = (document) => compiled()(document);
      return serialize;
    };
  };

  /** Wraps a validator compiler (Fastify's `setValidatorCompiler`). */
  validatorCompiler<T>(compiler: FastifySchemaCompiler<T>): FastifySchemaCompiler<T> {
    return (route) => {
      const compiled = this.once(() => compiler(route) as Validate);
      const validate = function (this: unknown, ...args: unknown[]): unknown {
        return compiled().apply(this, args);
      };
      Object.defineProperties(validate, {
        errors: { get: () => compiled().errors },
        schemaEnv: { get: () => compiled().schemaEnv },
      });
      return validate as ReturnType<FastifySchemaCompiler<T>>;
    };
  }

  /**
   * Compiles, in the background and after `delayMs`, every schema no request has needed yet. A
   * schema that fails to compile is left for its first use, which then fails as it would have.
   */
  warmUp(delayMs = WARM_UP_DELAY_MS): void {
    if (this.warming || this.stopped) return;
    this.warming = true;
    const next = (): void => {
      if (this.stopped) return;
      const compile = this.pending.values().next().value;
      if (!compile) {
        this.warming = false;
        return;
      }
      this.pending.delete(compile);
      try {
        compile();
      } catch {
        // Thrown again, to the request, on first use.
      }
      setImmediate(next);
    };
    setTimeout(next, delayMs).unref();
  }

  /** Stops warming up (the server closes). */
  stop(): void {
    this.stopped = true;
  }

  /** `compile` run once, on the first call; a failure is not kept, so the next call tries again. */
  private once<F>(compile: () => F): () => F {
    let compiled: F | undefined;
    const get = (): F => {
      if (compiled === undefined) {
        compiled = compile();
        this.pending.delete(warm);
      }
      return compiled;
    };
    const warm = (): void => {
      get();
    };
    this.pending.add(warm);
    return get;
  }
}
