import type { FastifyInstance } from 'fastify';

/**
 * Which methods each registered path answers, to tell "no such route" (404) from "this route,
 * another method" (405 with `Allow`, RFC 9110 §15.5.6). Collected with an `onRoute` hook, so it
 * covers every route of every scope (the API, the pages, the docs) registered after it, and
 * consulted only by the not-found handler: a request that finds its route pays nothing.
 */
export class RouteMethods {
  private readonly byUrl = new Map<string, { pattern: RegExp; methods: Set<string> }>();

  /** Starts collecting; call before any route is registered. */
  static track(app: FastifyInstance): RouteMethods {
    const methods = new RouteMethods();
    app.addHook('onRoute', (route) => methods.add(route.method, route.url ?? route.path));
    return methods;
  }

  add(method: string | string[], url: string): void {
    let entry = this.byUrl.get(url);
    if (!entry) {
      entry = { pattern: patternOf(url), methods: new Set() };
      this.byUrl.set(url, entry);
    }
    for (const name of Array.isArray(method) ? method : [method]) entry.methods.add(name.toUpperCase());
  }

  /** The methods some route answers at this path (no query string), sorted; empty when none. */
  allowedAt(path: string): string[] {
    const allowed = new Set<string>();
    for (const { pattern, methods } of this.byUrl.values()) if (pattern.test(path)) for (const method of methods) allowed.add(method);
    return [...allowed].sort();
  }
}

/** A Fastify route URL as a regular expression: `:name` is one path segment, `*` the rest. */
function patternOf(url: string): RegExp {
  const source = url
    .split(/(:[A-Za-z0-9_]+|\*)/)
    .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}
