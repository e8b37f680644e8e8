import { fork, type ChildProcess } from 'node:child_process';

/** Parent → upstream: accept these access tokens from now on (and only these). */
export interface UpstreamCommand {
  accessTokens: string[];
}

export type UpstreamReport = { type: 'listening'; port: number; bodyBytes: number } | { type: 'accepting'; count: number };

/** The upstream's route that answers `GET /items`'s body after `delayMs` (bench/proxy-upstream.ts). */
export const DELAYED_ITEMS_PATH = '/items/delayed';

export interface UpstreamOptions {
  /** How long `GET /items/delayed` waits before answering, on a timer in the upstream's own process. */
  delayMs: number;
}

export interface UpstreamProcess {
  /** Its origin, e.g. `http://127.0.0.1:41235`; the API is at `/items` (at once) and `/items/delayed`. */
  url: string;
  /** Size of the `GET /items` body (`/items/delayed` answers the same bytes). */
  bodyBytes: number;
  /** What `GET /items/delayed` waits before answering. */
  delayMs: number;
  /** Resolves once the upstream accepts exactly these tokens. */
  accept(accessTokens: string[]): Promise<void>;
  close(): Promise<void>;
}

/** Starts bench/proxy-upstream.ts in a child process and resolves once it listens. */
export async function startUpstreamProcess(options: UpstreamOptions): Promise<UpstreamProcess> {
  const child = fork(new URL('./proxy-upstream.ts', import.meta.url), [String(options.delayMs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const listening = await nextReport(child, 'listening');
  return {
    url: `http://127.0.0.1:${listening.port}`,
    bodyBytes: listening.bodyBytes,
    delayMs: options.delayMs,
    accept: async (accessTokens) => {
      const answer = nextReport(child, 'accepting');
      child.send({ accessTokens } satisfies UpstreamCommand);
      const { count } = await answer;
      if (count !== new Set(accessTokens).size) throw new Error(`the upstream accepts ${count} tokens, not ${accessTokens.length}`);
    },
    close: () => {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.disconnect();
      });
    },
  };
}

/** The child's next report of this type; rejects if it exits first. */
function nextReport<T extends UpstreamReport['type']>(child: ChildProcess, type: T): Promise<Extract<UpstreamReport, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (report: UpstreamReport): void => {
      if (report.type !== type) return;
      child.off('exit', onExit);
      child.off('message', onMessage);
      resolve(report as Extract<UpstreamReport, { type: T }>);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      child.off('message', onMessage);
      reject(new Error(`the upstream process exited (${signal ?? code}) before it reported "${type}"`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
