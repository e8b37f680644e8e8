import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import {
  alertStats,
  alertStatsToJson,
  alertToJson,
  expireSilenceById,
  matchersOf,
  parseInstant,
  sendTestNotification,
  silenceStateOf,
  silenceToJson,
  testNotificationDepsOf,
  testNotificationToJson,
} from '../alerts/index.ts';
import { TokenkeeperError } from '../errors.ts';
import { stuckConnectionToJson, stuckThresholdsToJson } from '../health/index.ts';
import type { Tokenkeeper } from '../service.ts';
import {
  Alert,
  AlertList,
  AlertListQuery,
  AlertStats,
  AlertStatsQuery,
  AlertTestReport,
  apiErrorResponses,
  GlobalSilenceCreate,
  GlobalSilenceRestored,
  NoQuery,
  ref,
  Silence,
  SilenceCreate,
  SilenceIdParams,
  SilenceList,
  SilenceListQuery,
  StuckConnection,
  StuckConnectionList,
  StuckConnectionQuery,
} from './schemas/index.ts';

/** The domain builds each answer as a plain record; the response schema serializes it (test/http-contract.test.ts keeps them in step). */
const asAlert = (json: Record<string, unknown>) => json as Alert;
const asSilence = (json: Record<string, unknown>) => json as Silence;
const asStuck = (json: Record<string, unknown>) => json as StuckConnection;

/** Who made a silence through the API when the body does not say. */
const API_CREATOR = 'api';

/**
 * Operator alerts (issue 8, item 7): the alerts themselves, their statistics, a test through
 * every channel, silences (each, and the global "silence everything until T"), and stuck
 * connections. The same domain functions as `tokenkeeper alerts` and `tokenkeeper stuck`, so the
 * CLI's `--json` is these answers. Reads only storage, except the test, which calls the channels.
 */
export function registerAlertRoutes(fastify: FastifyInstance, tk: Tokenkeeper): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { alerts, clock, stuck } = tk;
  const db = tk.database.db;

  app.get(
    '/v1/alerts',
    {
      schema: {
        operationId: 'listAlerts',
        tags: ['alerts'],
        summary: 'List alerts',
        description: 'Firing and resolved operator alerts, most recently seen first, filtered by the parameters given; each says whether a silence holds it back.',
        querystring: AlertListQuery,
        response: { 200: AlertList, ...apiErrorResponses({ 400: 'A parameter is invalid (`invalid_request`), e.g. a `since` that is not a date-time or epoch seconds.' }) },
      },
    },
    async (request) => {
      const { state, severity, type, limit } = request.query;
      const since = request.query.since === undefined ? undefined : instantOf('since', request.query.since);
      const [records, silences] = await Promise.all([alerts.list({ state, severity, type, since, limit: limit ?? 100 }), alerts.activeSilences()]);
      return { data: records.map((record) => asAlert(alertToJson(record, silences))) };
    },
  );

  app.get(
    '/v1/alerts/stats',
    {
      schema: {
        operationId: 'getAlertStats',
        tags: ['alerts'],
        summary: 'Alert statistics',
        description:
          'Over the last `hours`: alerts by type and severity; notifications sent, suppressed by de-duplication, silenced, failed. Definitions in docs/alerts.md.',
        querystring: AlertStatsQuery,
        response: { 200: AlertStats, ...apiErrorResponses({}) },
      },
    },
    async (request) => alertStatsToJson(await alertStats(db, clock.now(), request.query.hours)) as AlertStats,
  );

  app.post(
    '/v1/alerts/test',
    {
      schema: {
        operationId: 'testAlertChannels',
        tags: ['alerts'],
        summary: 'Send a test alert',
        description:
          'Sends a test notification through every configured channel now (no group wait, no silence, no minimum severity) and reports each channel’s result. 200 even when a channel fails: `ok` says whether all delivered.',
        querystring: NoQuery,
        response: { 200: AlertTestReport, ...apiErrorResponses({}) },
      },
    },
    async () => {
      const report = await sendTestNotification(testNotificationDepsOf(tk), API_CREATOR);
      return testNotificationToJson(report) as AlertTestReport;
    },
  );

  app.get(
    '/v1/silences',
    {
      schema: {
        operationId: 'listSilences',
        tags: ['alerts'],
        summary: 'List silences',
        description: 'Newest first, expired ones included (kept for history), each with its state now.',
        querystring: SilenceListQuery,
        response: { 200: SilenceList, ...apiErrorResponses({}) },
      },
    },
    async (request) => {
      const now = clock.now();
      const { state, limit = 100 } = request.query;
      const silences = (await alerts.listSilences()).filter((silence) => state === undefined || silenceStateOf(silence, now) === state);
      return { data: silences.slice(0, limit).map((silence) => asSilence(silenceToJson(silence, now))) };
    },
  );

  app.post(
    '/v1/silences',
    {
      schema: {
        operationId: 'createSilence',
        tags: ['alerts'],
        summary: 'Silence alerts',
        description:
          'Alerts matching every matcher given (type, severity, label values) between `starts_at` and `ends_at` are still recorded, but not sent. A silence with no matcher is refused: use `POST /v1/silences/all`.',
        querystring: NoQuery,
        body: SilenceCreate,
        response: {
          201: ref(Silence, 'The silence.'),
          ...apiErrorResponses({ 400: 'The body is invalid (`invalid_request`, every problem in `details.problems`; e.g. no matcher, or `ends_at` not after `starts_at` and now) or not JSON (`invalid_json`).' }, { body: true }),
        },
      },
    },
    async (request, reply) => {
      const { matchers, starts_at, ends_at, comment, created_by } = request.body;
      const silence = await alerts.silence({
        matchers: matchersOf(matchers),
        startsAt: starts_at === undefined ? undefined : instantOf('starts_at', starts_at),
        endsAt: instantOf('ends_at', ends_at),
        comment,
        createdBy: created_by ?? API_CREATOR,
      });
      return reply.code(201).send(asSilence(silenceToJson(silence, clock.now())));
    },
  );

  app.post(
    '/v1/silences/all',
    {
      schema: {
        operationId: 'silenceAllAlerts',
        tags: ['alerts'],
        summary: 'Silence every alert until a time',
        description:
          'For maintenance: from now until `ends_at`, every alert is recorded but none is sent. Ends by itself, or earlier with `DELETE /v1/silences/all`. Alerts still firing afterwards are then sent.',
        querystring: NoQuery,
        body: GlobalSilenceCreate,
        response: { 201: ref(Silence, 'The global silence.'), ...apiErrorResponses({ 400: 'The body is invalid (`invalid_request`; e.g. `ends_at` in the past) or not JSON (`invalid_json`).' }, { body: true }) },
      },
    },
    async (request, reply) => {
      const { ends_at, comment, created_by } = request.body;
      const silence = await alerts.silenceAll({ endsAt: instantOf('ends_at', ends_at), comment, createdBy: created_by ?? API_CREATOR });
      return reply.code(201).send(asSilence(silenceToJson(silence, clock.now())));
    },
  );

  app.delete(
    '/v1/silences/all',
    {
      schema: {
        operationId: 'restoreAlerts',
        tags: ['alerts'],
        summary: 'End the global silence',
        description: 'Ends every global silence in force or still to start (kept for history); other silences stay. Harmless when there is none.',
        querystring: NoQuery,
        response: { 200: GlobalSilenceRestored, ...apiErrorResponses({}) },
      },
    },
    async () => ({ expired: await alerts.restore() }),
  );

  app.delete(
    '/v1/silences/:id',
    {
      schema: {
        operationId: 'expireSilence',
        tags: ['alerts'],
        summary: 'Expire a silence',
        description: 'Ends it now; it is kept for history. Expiring one that is already over answers it as it is.',
        params: SilenceIdParams,
        querystring: NoQuery,
        response: {
          200: ref(Silence, 'The silence, now expired.'),
          ...apiErrorResponses({ 400: 'The id is not a silence id (`invalid_id`), or the request is invalid (`invalid_request`).', 404: 'No such silence (`silence_not_found`).' }),
        },
      },
    },
    async (request) => asSilence(silenceToJson(await expireSilenceById(alerts, request.params.id), clock.now())),
  );

  app.get(
    '/v1/stuck',
    {
      schema: {
        operationId: 'listStuckConnections',
        tags: ['alerts'],
        summary: 'List stuck connections',
        description:
          'Connect sessions never completed, connections degraded or in `needs_reauth` for longer than their thresholds: highest severity first, then the longest stuck; with how long, why, and what would unstick each. Reads only storage.',
        querystring: StuckConnectionQuery,
        response: { 200: StuckConnectionList, ...apiErrorResponses({}) },
      },
    },
    async (request) => {
      const items = await stuck.list(request.query);
      return { data: items.map((item) => asStuck(stuckConnectionToJson(item))), thresholds: stuckThresholdsToJson(stuck.thresholds) };
    },
  );
}

/** A time parameter or field (ISO 8601 or epoch seconds), or `invalid_request` saying what is wrong. */
function instantOf(name: string, value: string): number {
  const parsed = parseInstant(value);
  if ('ms' in parsed) return parsed.ms;
  const problem = `${name}: ${parsed.problem}`;
  throw new TokenkeeperError('invalid_request', `Invalid request: ${problem}.`, { details: { problems: [problem] } });
}
