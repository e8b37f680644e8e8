/**
 * The load generator, run as a child process of bench/run.ts (never directly): it receives
 * `LoadRequest`s over IPC and answers each with a summary. One long-lived keep-alive agent is
 * kept for bursts, so a burst's connections are already open and the measured wait is the
 * service's, not TCP set-up's.
 */
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import type { AutocannonRequest, AutocannonSummary, BurstRequest, BurstSummary, LoadRequest, LoadResponse, SequenceRequest, SequenceSummary } from './load-messages.ts';

/** The part of autocannon's result this benchmark reads (autocannon ships no types). */
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  throughput: { average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}
type Autocannon = (options: Record<string, unknown>, done: (error: Error | null, result: AutocannonResult) => void) => unknown;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
const burstAgent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 10_000, scheduling: 'lifo' });
/** One kept-alive connection per origin: a sequence's requests never queue behind each other. */
const sequenceAgent = new Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });

function runAutocannon(task: AutocannonRequest): Promise<AutocannonSummary> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: task.url,
        headers: task.headers,
        connections: task.connections,
        duration: task.durationSeconds,
        pipelining: 1,
        ...(task.paths && task.paths.length > 0 ? { requests: [{ setupRequest: pathSequence(task.paths) }] } : {}),
      },
      (error, result) => {
        if (error) return reject(error);
        resolve({
          requestsPerSecond: result.requests.average,
          latencyP50: result.latency.p50,
          latencyP99: result.latency.p99,
          latencyMax: result.latency.max,
          totalRequests: result.requests.total,
          responses2xx: result['2xx'],
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          bytesPerSecond: result.throughput.average,
        });
      },
    );
  });
}

/**
 * autocannon's per-request hook: the next path of one sequence shared by every connection,
 * starting at a random place so that consecutive runs do not ask for the same ids in step.
 */
function pathSequence(paths: string[]): (request: Record<string, unknown>) => Record<string, unknown> {
  let next = Math.floor(Math.random() * paths.length);
  return (request) => {
    const path = paths[next]!;
    next = (next + 1) % paths.length;
    return { ...request, path };
  };
}

interface Answer {
  status: number;
  ms: number;
  body: string;
}

function askOnce(url: string, headers: Record<string, string>, agent: Agent = burstAgent): Promise<Answer> {
  return new Promise((resolve) => {
    const started = performance.now();
    const outgoing = request(url, { agent, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, ms: performance.now() - started, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', (error) => resolve({ status: 0, ms: performance.now() - started, body: error.message }));
    });
    outgoing.on('error', (error) => resolve({ status: 0, ms: performance.now() - started, body: error.message }));
    outgoing.end();
  });
}

async function runBurst(task: BurstRequest): Promise<BurstSummary> {
  const started = performance.now();
  // All requests are started in one synchronous loop: they are all in flight together.
  const pending: Promise<Answer>[] = [];
  const urls = task.urls && task.urls.length > 0 ? task.urls : [task.url];
  for (let index = 0; index < task.count; index++) pending.push(askOnce(urls[index % urls.length]!, task.headers));
  const answers = await Promise.all(pending);
  const wallMs = performance.now() - started;
  const statuses: Record<string, number> = {};
  const tokens = new Set<string>();
  const sampleFailures: string[] = [];
  for (const answer of answers) {
    if (!tally(answer, statuses, sampleFailures)) continue;
    try {
      tokens.add(String((JSON.parse(answer.body) as { access_token?: unknown }).access_token));
    } catch {
      if (sampleFailures.length < 5) sampleFailures.push(`200 with a body that is not JSON: ${answer.body.slice(0, 120)}`);
    }
  }
  return { latenciesMs: answers.map((answer) => answer.ms), statuses, distinctAccessTokens: [...tokens], wallMs, sampleFailures };
}

/** Counts the answer's status, keeps a few failures for the report; true for a 200. */
function tally(answer: Answer, statuses: Record<string, number>, sampleFailures: string[]): boolean {
  statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
  if (answer.status === 200) return true;
  if (sampleFailures.length < 5) sampleFailures.push(`${answer.status}: ${answer.body.slice(0, 200)}`);
  return false;
}

async function runSequence(task: SequenceRequest): Promise<SequenceSummary> {
  const latenciesMs = task.targets.map((): number[] => []);
  const statuses: Record<string, number> = {};
  const sampleFailures: string[] = [];
  const urls = task.targets.map((target) => (target.paths && target.paths.length > 0 ? target.paths.map((path) => new URL(path, target.url).href) : [target.url]));
  const deadline = performance.now() + task.durationSeconds * 1000;
  for (let turn = 0; performance.now() < deadline; turn++) {
    for (const [index, target] of task.targets.entries()) {
      const targetUrls = urls[index]!;
      const answer = await askOnce(targetUrls[turn % targetUrls.length]!, target.headers, sequenceAgent);
      tally(answer, statuses, sampleFailures);
      latenciesMs[index]!.push(answer.ms);
    }
  }
  return { latenciesMs, statuses, sampleFailures };
}

async function handle(message: LoadRequest & { id: number }): Promise<void> {
  let reply: LoadResponse;
  try {
    const result = message.type === 'autocannon' ? await runAutocannon(message) : message.type === 'burst' ? await runBurst(message) : await runSequence(message);
    reply = { id: message.id, ok: true, result };
  } catch (error) {
    reply = { id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  process.send?.(reply);
}

if (!process.send) {
  console.error('bench/load-child.ts is started by bench/run.ts; run `npm run bench` instead.');
  process.exit(2);
}
process.on('message', (message: LoadRequest & { id: number }) => void handle(message));
// The parent went away (finished, or crashed): do not linger holding sockets open.
process.on('disconnect', () => {
  burstAgent.destroy();
  sequenceAgent.destroy();
  process.exit(0);
});
