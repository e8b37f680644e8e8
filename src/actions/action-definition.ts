import type { Static, TSchema } from 'typebox';

/** The methods an action may use. */
export const ACTION_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type ActionMethod = (typeof ACTION_METHODS)[number];

/**
 * The provider request an action builds from its input: exactly what is sent, except the token,
 * which the proxy path injects the way the provider expects (and a preview shows redacted).
 */
export interface ActionRequest {
  method: ActionMethod;
  /**
   * Relative to the integration's API base URL (`/gmail/v1/users/me/messages/send` under
   * `https://www.googleapis.com`), starting with `/`; may end in a query string. Path parameters
   * taken from the input must be percent-encoded (`encodeURIComponent`). A path that could leave
   * the base URL (`..`, `//host`, a scheme) is refused before anything is sent.
   */
  path: string;
  /** Header names in any case; `Authorization` is not allowed (the token is never the action's). */
  headers?: Record<string, string>;
  /**
   * A JSON value, sent as JSON (`Content-Type: application/json; charset=utf-8` unless the
   * headers say otherwise), or a string sent as it is (say its `Content-Type` in the headers).
   * Absent: no body.
   */
  body?: unknown;
}

/** What `build` may use besides the input. */
export interface ActionBuildContext {
  /** Now, from the service's clock: for a `Date` header or a timestamp. */
  now: Date;
  /** A fresh random identifier (letters and digits), for a Message-ID or a MIME boundary. */
  randomId(): string;
  /** The integration the request goes through. */
  integration: { key: string; provider: string };
  /** The connected account, when known: its provider id and label (often an e-mail address). */
  account: { id: string | null; label: string | null } | null;
}

/** The provider's answer, as `read` gets it. */
export interface ActionResponse {
  status: number;
  /** Header names in lower case. */
  headers: Readonly<Record<string, string>>;
  /** The body: parsed JSON when it is JSON, else its text; null when empty. */
  body: unknown;
}

/**
 * A typed operation on a provider API, run on a user's behalf through one of their connections.
 * Built-in actions live in `built-in/`; operators add their own as modules in
 * TOKENKEEPER_ACTIONS_DIR (docs/actions.md), validated at start-up against this shape.
 */
export interface ActionDefinition<Input extends TSchema = TSchema> {
  /** `<provider>.<area>.<verb>`, lower case, dot-separated: `google.gmail.send`. */
  name: string;
  /** One sentence: what it does, for `GET /v1/actions` and the OpenAPI document. */
  description: string;
  /**
   * The catalog providers whose integrations offer it (`google`, `github`, `github-app`, …; for
   * `custom` or `oidc` integrations, narrow it with `integrations`).
   */
  providers: readonly string[];
  /** When set, only the integrations with these keys offer it (among those of `providers`). */
  integrations?: readonly string[];
  /**
   * The input as a JSON Schema object (TypeBox builds one), checked with the same validator and
   * options as the HTTP API's request bodies: no coercion, no defaults, unknown fields refused.
   */
  input: Input;
  /**
   * Problems the schema cannot say (at least one of several fields), as sentences naming the
   * field. Called with the input object even when the schema found problems, so that one answer
   * lists them all: read fields defensively.
   */
  inputProblems?(input: Record<string, unknown>): string[];
  /** The exact request for a valid input. Must not send anything or keep state. */
  build(input: Static<Input>, context: ActionBuildContext): ActionRequest;
  /**
   * The result JSON from a 2xx answer. Throw `ActionReadError` (or any error with a `reason` from
   * the outcome set) when a 2xx still means failure (Slack's `ok: false`). Absent: the answer's
   * body is the result. Non-2xx answers never reach it.
   */
  read?(response: ActionResponse): unknown;
}

/** Typed help for writing a definition: `export default defineAction({ … })`. */
export function defineAction<Input extends TSchema>(definition: ActionDefinition<Input>): ActionDefinition<Input> {
  return definition;
}
