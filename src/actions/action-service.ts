import type { Clock } from '../clock.ts';
import { TokenkeeperError, isTokenkeeperError } from '../errors.ts';
import type { EventBus } from '../events.ts';
import type { IntegrationView } from '../integrations/index.ts';
import { apiBaseUrlOf, type ProxyAnswer, type ProxyCall } from '../proxy/index.ts';
import type { ConnectionRecord, IntegrationRecord } from '../store/index.ts';
import type { ActionDefinition, ActionResponse } from './action-definition.ts';
import type { ActionIntegration, ActionJson, ActionRegistry } from './action-registry.ts';
import { prepareAndPreviewAction, previewAction, type ActionPreview, type PrepareActionOptions, type PreparedActionRequest } from './action-request.ts';
import { actionErrorFor, actionResultError, readActionResponse, type ActionResult } from './action-result.ts';
import { classifyError } from './classify-outcome.ts';
import { IdempotentExecutions, replayedError, type IdempotencyClaim, type StoredAnswer } from './idempotent-executions.ts';
import type { ActionFailureReason, ActionOutcome } from './outcome-reasons.ts';

/** What the service reads connections and integrations through. */
export interface ActionConnections {
  get(id: string): Promise<{ record: ConnectionRecord; integration: IntegrationView }>;
}

export interface ActionServiceOptions {
  registry: ActionRegistry;
  connections: ActionConnections;
  integrations: { findByKey(key: string): Promise<IntegrationRecord | null>; list(): Promise<IntegrationRecord[]> };
  proxy: { forward(call: ProxyCall): Promise<ProxyAnswer> };
  executions: IdempotentExecutions;
  events: EventBus;
  clock: Clock;
}

/** `POST …/preview`'s answer: the exact request, token redacted. */
export interface ActionPreviewJson extends ActionPreview {
  connection_id: string;
  integration: string;
}

/** `POST …/execute`'s answer when the action succeeded. */
export interface ActionExecutionJson {
  action: string;
  connection_id: string;
  integration: string;
  outcome: 'ok';
  provider_status: number;
  /** What the action's `read` made of the provider's answer (for Gmail: the message's id and thread). */
  result: unknown;
  duration_ms: number;
  executed_at: string;
  /** True when this is the stored answer of an earlier execute with the same Idempotency-Key: nothing was sent. */
  replayed: boolean;
}

export interface ExecuteOptions {
  /** The caller's Idempotency-Key: the outcome is stored 24 h and a retry with the key gets it again. */
  idempotencyKey?: string;
  /** Aborted when the caller goes away: ends a wait for another execution with the same key (a send, once started, finishes). */
  signal?: AbortSignal;
}

/** Outcomes after which the provider may have acted: they are kept for the key; the others give it back. */
const SENT_OUTCOMES: ReadonlySet<ActionOutcome> = new Set<ActionOutcome>(['ok', 'provider_rejected', 'provider_error', 'timeout']);

/**
 * Actions on a user's behalf (issue 9, items 5–10; docs/actions.md): list, preview and execute.
 *
 * An execute, in order: the connection and its integration (404); the action (404
 * `action_not_found`); the kill switch (501 `action_disabled`); the input (400, every problem);
 * the Idempotency-Key (a stored answer is given again, nothing sent); then the request through
 * the proxy path — the same token, 401 refresh-and-retry, 429/503 waits, rate limit and circuit
 * breaker as any proxied call — and the provider's answer read by the action. Every execute that
 * got as far as naming an action the integration offers ends in exactly one outcome, which goes
 * into the answer (`details.outcome` of an error), a connection event and the metrics.
 */
export class ActionService {
  private readonly options: ActionServiceOptions;

  constructor(options: ActionServiceOptions) {
    this.options = options;
  }

  /** The registry: the actions there are and the names switched off. */
  get registry(): ActionRegistry {
    return this.options.registry;
  }

  /** One action's definition by name. */
  get(name: string): ActionDefinition | undefined {
    return this.options.registry.get(name);
  }

  /**
   * `GET /v1/actions`: every action, each with the configured integrations that offer it
   * (`available_for`, with `enabled` as each sees it); or, for one integration, those it offers
   * with `enabled` as it sees them (404 for an unknown key).
   */
  async list(integrationKey?: string): Promise<Array<ActionJson & { available_for: Array<{ integration: string; enabled: boolean }> }>> {
    const { registry, integrations } = this.options;
    let targets: ActionIntegration[];
    if (integrationKey === undefined) {
      targets = (await integrations.list()).map((record) => ({ key: record.key, provider: record.provider, actionsEnabled: record.actionsEnabled }));
    } else {
      const record = await integrations.findByKey(integrationKey);
      if (record === null) throw new TokenkeeperError('integration_not_found', `No integration "${integrationKey.slice(0, 100)}".`);
      targets = [{ key: record.key, provider: record.provider, actionsEnabled: record.actionsEnabled }];
    }
    const listed = integrationKey === undefined ? registry.toJson() : registry.toJson(targets[0]);
    return listed.map((action) => {
      const definition = registry.get(action.name)!;
      const available_for = targets
        .filter((target) => registry.appliesTo(definition, target))
        .map((target) => ({ integration: target.key, enabled: registry.disabledBy(action.name, target) === null }));
      return { ...action, available_for };
    });
  }

  /** The request `execute` would send, with the token redacted. Validates the input; sends nothing. */
  async preview(connectionId: string, name: string, body: unknown): Promise<ActionPreviewJson> {
    const { action, record, integration } = await this.resolve(connectionId, name);
    const preview = previewAction(action, inputOf(action, body), this.prepareOptions(record, integration));
    return { connection_id: record.id, integration: integration.record.key, ...preview };
  }

  /**
   * Runs the action: the provider's answer read into `result`, or a TokenkeeperError whose
   * `details.outcome` is the bounded reason (docs/actions.md). With an Idempotency-Key, exactly
   * once for the caller (`IdempotentExecutions`).
   */
  async execute(connectionId: string, name: string, body: unknown, options: ExecuteOptions = {}): Promise<ActionExecutionJson> {
    if (options.idempotencyKey !== undefined) IdempotentExecutions.checkKey(options.idempotencyKey);
    const { action, record, integration } = await this.resolve(connectionId, name, { checkEnabled: false });
    const startedAt = this.options.clock.now();
    const ref = { record, integration, action: action.name, startedAt };
    let prepared: PreparedActionRequest;
    let input: unknown;
    try {
      this.options.registry.assertEnabled(action.name, actionIntegrationOf(integration));
      input = inputOf(action, body);
      prepared = prepareAndPreviewAction(action, input, this.prepareOptions(record, integration)).request;
    } catch (error) {
      throw this.failed(ref, error, classifyError(error, 'token'), null);
    }

    let claim: IdempotencyClaim | null = null;
    if (options.idempotencyKey !== undefined) {
      const begun = await this.options.executions.begin({ connectionId: record.id, action: action.name, key: options.idempotencyKey, input }, options.signal);
      if ('replay' in begun) return this.replay(ref, begun.replay);
      claim = begun.run;
    }

    let result: ActionResult;
    try {
      result = await this.send(prepared, record.id, action, claim !== null);
    } catch (error) {
      const reason = classifyError(error, isTokenkeeperError(error) ? 'token' : 'call');
      const failure = actionErrorFor(error, reason);
      await this.settle(claim, reason, errorAnswer(failure));
      throw this.failed(ref, failure, reason, null);
    }
    if (result.outcome !== 'ok') {
      const failure = actionResultError(result);
      await this.settle(claim, result.outcome, errorAnswer(failure));
      throw this.failed(ref, failure, result.outcome, result.status, result.providerError);
    }
    const json: ActionExecutionJson = {
      action: action.name,
      connection_id: record.id,
      integration: integration.record.key,
      outcome: 'ok',
      provider_status: result.status,
      result: result.result,
      duration_ms: this.options.clock.now() - startedAt,
      executed_at: new Date(startedAt).toISOString(),
      replayed: false,
    };
    await this.settle(claim, 'ok', { kind: 'ok', body: json as unknown as Record<string, unknown> });
    this.emit(ref, 'ok', result.status, null, false);
    return json;
  }

  /** The connection, its integration and the action it offers under `name` (404s), optionally checking the kill switch. */
  private async resolve(
    connectionId: string,
    name: string,
    options: { checkEnabled: boolean } = { checkEnabled: true },
  ): Promise<{ action: ActionDefinition; record: ConnectionRecord; integration: IntegrationView }> {
    const { record, integration } = await this.options.connections.get(connectionId);
    const target = actionIntegrationOf(integration);
    const action = this.options.registry.resolve(name, target);
    if (options.checkEnabled) this.options.registry.assertEnabled(action.name, target);
    return { action, record, integration };
  }

  private prepareOptions(record: ConnectionRecord, integration: IntegrationView): PrepareActionOptions {
    return {
      apiBaseUrl: apiBaseUrlOf(integration.provider, integration.record.settings, record.metadata),
      integration: { key: integration.record.key, provider: integration.provider.key },
      account: { id: record.accountId, label: record.accountLabel },
      now: new Date(this.options.clock.now()),
    };
  }

  /** The prepared request through the proxy path, and the provider's answer as the action reads it. */
  private async send(prepared: PreparedActionRequest, connectionId: string, action: ActionDefinition, keyed: boolean): Promise<ActionResult> {
    // Not stopped when the caller goes away: half-sent, the outcome would be unknown; finished,
    // it is kept for the caller's retry with its Idempotency-Key.
    const answer = await this.options.proxy.forward({
      connectionId,
      method: prepared.method,
      target: prepared.path,
      headers: prepared.headers,
      body: prepared.body === null ? { kind: 'none' } : { kind: 'buffer', bytes: Buffer.from(prepared.body, 'utf8') },
      // With a key, a second send after a 429 or 503 cannot do the action twice for the caller.
      retryUnsafe: keyed,
    });
    const response = await responseOf(answer);
    return readActionResponse(action, response, this.options.clock.now());
  }

  /** Keeps the answer for the key when the provider may have acted; gives the key back otherwise. */
  private async settle(claim: IdempotencyClaim | null, outcome: ActionOutcome, answer: StoredAnswer): Promise<void> {
    if (claim === null) return;
    if (SENT_OUTCOMES.has(outcome)) await this.options.executions.finish(claim, outcome, answer);
    else await this.options.executions.release(claim);
  }

  private replay(ref: ExecutionRef, answer: StoredAnswer): ActionExecutionJson {
    if (answer.kind === 'ok') {
      const body = { ...(answer.body as unknown as ActionExecutionJson), replayed: true };
      this.emit(ref, 'ok', body.provider_status, null, true);
      return body;
    }
    const error = replayedError(answer);
    const outcome = (answer.details?.outcome as ActionOutcome | undefined) ?? 'provider_error';
    const status = typeof answer.details?.provider_status === 'number' ? answer.details.provider_status : null;
    const providerError = typeof answer.details?.provider_error === 'string' ? answer.details.provider_error : null;
    this.emit(ref, outcome, status, providerError, true);
    throw error;
  }

  /** Records a failed execute and returns the error to throw, with its outcome in `details`. */
  private failed(ref: ExecutionRef, error: unknown, reason: ActionFailureReason, status: number | null, providerError: string | null = null): TokenkeeperError {
    this.emit(ref, reason, status, providerError, false);
    return isTokenkeeperError(error) && error.details?.outcome === reason ? error : actionErrorFor(error, reason);
  }

  private emit(ref: ExecutionRef, outcome: ActionOutcome, providerStatus: number | null, providerError: string | null, replayed: boolean): void {
    this.options.events.emit('action.executed', {
      connectionId: ref.record.id,
      integrationKey: ref.integration.record.key,
      provider: ref.integration.provider.key,
      ownerId: ref.record.ownerId,
      action: ref.action,
      outcome,
      providerStatus,
      providerError,
      durationMs: this.options.clock.now() - ref.startedAt,
      replayed,
    });
  }
}

interface ExecutionRef {
  record: ConnectionRecord;
  integration: IntegrationView;
  action: string;
  startedAt: number;
}

function actionIntegrationOf(view: IntegrationView): ActionIntegration {
  return { key: view.record.key, provider: view.provider.key, actionsEnabled: view.record.actionsEnabled };
}

/**
 * The action's input from a request body: the body itself, or `{ "input": { … } }` — a body whose
 * only field is `input` holding an object is taken as wrapped, unless the action's own input has
 * a field named `input`.
 */
export function inputOf(action: ActionDefinition, body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const keys = Object.keys(body);
  const wrapped = (body as Record<string, unknown>).input;
  if (keys.length !== 1 || keys[0] !== 'input' || wrapped === null || typeof wrapped !== 'object' || Array.isArray(wrapped)) return body;
  const properties = (action.input as { properties?: Record<string, unknown> }).properties;
  if (properties !== undefined && Object.hasOwn(properties, 'input')) return body;
  return wrapped;
}

function errorAnswer(error: TokenkeeperError): StoredAnswer {
  return { kind: 'error', code: error.code, message: error.message, details: error.details, retryAfterMs: error.retryAfterMs ?? null };
}

/** The provider's answer as `read` gets it: the body read whole (held to the proxy's size limit), JSON parsed when it says JSON. */
async function responseOf(answer: ProxyAnswer): Promise<ActionResponse> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(answer.headers)) {
    if (!name.startsWith('tokenkeeper-')) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  let text = '';
  if (answer.body !== null) {
    const chunks: Buffer[] = [];
    for await (const chunk of answer.body) chunks.push(chunk as Buffer);
    text = Buffer.concat(chunks).toString('utf8');
  }
  let body: unknown = text === '' ? null : text;
  if (text !== '' && /^application\/(?:[\w.+-]+\+)?json\b/i.test(headers['content-type'] ?? '')) {
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      // Not JSON after all: the action's `read` gets the text and decides.
    }
  }
  return { status: answer.status, headers, body };
}
