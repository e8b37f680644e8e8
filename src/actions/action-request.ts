import { randomBytes } from 'node:crypto';
import { TokenkeeperError } from '../errors.ts';
import { ACTION_METHODS, type ActionBuildContext, type ActionDefinition, type ActionRequest } from './action-definition.ts';
import { validateActionInput } from './action-input.ts';

/** How a preview shows the token: never the token itself. */
export const REDACTED_AUTHORIZATION = 'Bearer [redacted]';

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** What `prepareAction` needs besides the action and its input. */
export interface PrepareActionOptions {
  /** The integration's API base URL (catalog or `settings.apiBaseUrl`), e.g. `https://slack.com/api`. */
  apiBaseUrl: string;
  integration: { key: string; provider: string };
  account?: { id: string | null; label: string | null } | null;
  /** Now, from the service clock. */
  now: Date;
  /** Default: 16 random bytes as hex. Tests may fix it. */
  randomId?: () => string;
}

/**
 * The exact request an execution sends, less the token: the proxy path adds `Authorization`
 * (refreshing and retrying as it does for any proxied call). Built once per execution, so the
 * request sent is the one a preview of the same build would have shown.
 */
export interface PreparedActionRequest {
  action: string;
  method: ActionRequest['method'];
  /** Relative to the API base URL, as the proxy takes it. */
  path: string;
  /** The absolute URL: base URL + path. */
  url: string;
  /** Lower-case names; no `authorization`. */
  headers: Record<string, string>;
  /** The body's exact text (UTF-8 on the wire), or null for none. */
  body: string | null;
}

/** `POST …/actions/:action/preview`: the request that would be sent, token redacted, sending nothing. */
export interface ActionPreview {
  action: string;
  method: ActionRequest['method'];
  url: string;
  /** With `authorization: Bearer [redacted]`. */
  headers: Record<string, string>;
  /** The JSON value the action sends (shown as JSON, not as its text), the text of a non-JSON body, or null. */
  body: unknown;
}

/** Validates the input (throws `invalid_request` listing every problem) and builds the request. */
export function prepareAction(action: ActionDefinition, input: unknown, options: PrepareActionOptions): PreparedActionRequest {
  return prepareValidated(action, validateActionInput(action, input), options).prepared;
}

/** Validates the input and shows the request an execution would send, with the token redacted. Sends nothing. */
export function previewAction(action: ActionDefinition, input: unknown, options: PrepareActionOptions): ActionPreview {
  const { prepared, jsonBody } = prepareValidated(action, validateActionInput(action, input), options);
  return toPreview(prepared, jsonBody);
}

/** Both at once: the request to send and its preview (an execution records what it sent). */
export function prepareAndPreviewAction(
  action: ActionDefinition,
  input: unknown,
  options: PrepareActionOptions,
): { request: PreparedActionRequest; preview: ActionPreview } {
  const { prepared, jsonBody } = prepareValidated(action, validateActionInput(action, input), options);
  return { request: prepared, preview: toPreview(prepared, jsonBody) };
}

function toPreview(prepared: PreparedActionRequest, jsonBody: { value: unknown } | null): ActionPreview {
  return {
    action: prepared.action,
    method: prepared.method,
    url: prepared.url,
    headers: { authorization: REDACTED_AUTHORIZATION, ...prepared.headers },
    body: jsonBody ? jsonBody.value : prepared.body,
  };
}

function prepareValidated(
  action: ActionDefinition,
  input: unknown,
  options: PrepareActionOptions,
): { prepared: PreparedActionRequest; jsonBody: { value: unknown } | null } {
  const context: ActionBuildContext = {
    now: options.now,
    randomId: options.randomId ?? (() => randomBytes(16).toString('hex')),
    integration: options.integration,
    account: options.account ?? null,
  };
  const request = action.build(input as never, context);
  const problem = requestProblem(request);
  if (problem !== null) {
    // The action's own mistake, not the caller's: a user module must fix its `build`.
    throw new TokenkeeperError('internal_error', `The action ${action.name} built an invalid request: ${problem}.`);
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
  let body: string | null = null;
  let jsonBody: { value: unknown } | null = null;
  if (typeof request.body === 'string') {
    body = request.body;
  } else if (request.body !== undefined) {
    body = JSON.stringify(request.body);
    jsonBody = { value: JSON.parse(body) as unknown };
    headers['content-type'] ??= JSON_CONTENT_TYPE;
  }
  return {
    prepared: { action: action.name, method: request.method, path: request.path, url: joinApiUrl(options.apiBaseUrl, request.path), headers, body },
    jsonBody,
  };
}

/** `https://slack.com/api` + `/chat.postMessage`: the base URL's own path is kept, a trailing slash is not doubled. */
export function joinApiUrl(apiBaseUrl: string, path: string): string {
  return `${apiBaseUrl.replace(/\/+$/, '')}${path}`;
}

/** Why a built request may not be sent, or null. */
function requestProblem(request: ActionRequest): string | null {
  if (request === null || typeof request !== 'object') return 'build() must return { method, path, headers?, body? }';
  if (!(ACTION_METHODS as readonly string[]).includes(request.method)) return `method ${JSON.stringify(request.method)} is not one of ${ACTION_METHODS.join(', ')}`;
  if (typeof request.path !== 'string') return 'path must be a string';
  const pathProblem = actionPathProblem(request.path);
  if (pathProblem !== null) return pathProblem;
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return `header name ${JSON.stringify(name)} is not a valid HTTP field name`;
    if (typeof value !== 'string' || /[\r\n\0]/.test(value)) return `header ${name} must be a string without line breaks`;
    if (name.toLowerCase() === 'authorization') return 'it sets Authorization; the token is added by Tokenkeeper';
  }
  if (request.method === 'GET' && request.body !== undefined) return 'a GET request cannot have a body';
  if (typeof request.body === 'string' && !Object.keys(request.headers ?? {}).some((name) => name.toLowerCase() === 'content-type')) {
    return 'a text body needs a Content-Type header';
  }
  return null;
}

/**
 * Why a path could leave the integration's API base URL, or null: it must start with one `/`, hold
 * no backslash, fragment, whitespace or control character, and no `.` or `..` segment, written
 * plainly or percent-encoded (`%2e%2e`), that a URL parser or the provider would resolve upwards.
 */
export function actionPathProblem(path: string): string | null {
  if (!path.startsWith('/') || path.startsWith('//')) return `path ${JSON.stringify(path.slice(0, 80))} must start with a single /`;
  if (/[\s\\#\u0000-\u001f\u007f]/.test(path)) return 'path must not contain whitespace, a backslash, a fragment or control characters';
  const pathname = path.split('?')[0]!;
  for (const segment of pathname.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return `path segment ${JSON.stringify(segment.slice(0, 40))} is not valid percent-encoding`;
    }
    // `%2e%2e%2f..` decodes to `../..`: each piece between encoded slashes counts as a segment too.
    if (decoded.split(/[\\/]/).some((piece) => piece === '.' || piece === '..')) return 'path must not contain . or .. segments, plain or percent-encoded';
  }
  return null;
}
