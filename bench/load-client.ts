import { fork, type ChildProcess } from 'node:child_process';
import type { AutocannonRequest, AutocannonSummary, BurstRequest, BurstSummary, LoadRequest, LoadResponse, SequenceRequest, SequenceSummary } from './load-messages.ts';

/**
 * The parent's handle on the load-generating child process (bench/load-child.ts). Requests
 * are answered in order; the child is stopped by `close()`, or on its own when the parent
 * exits and the IPC channel closes.
 */
export class LoadClient {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  #nextId = 1;

  constructor() {
    this.#child = fork(new URL('./load-child.ts', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#child.on('message', (message: LoadResponse) => {
      const waiter = this.#waiting.get(message.id);
      if (!waiter) return;
      this.#waiting.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`load generator: ${message.error}`));
    });
    this.#child.on('exit', (code, signal) => {
      for (const waiter of this.#waiting.values()) waiter.reject(new Error(`load generator exited (${signal ?? code}) before answering`));
      this.#waiting.clear();
    });
  }

  autocannon(task: Omit<AutocannonRequest, 'type'>): Promise<AutocannonSummary> {
    return this.#ask({ type: 'autocannon', ...task }) as Promise<AutocannonSummary>;
  }

  burst(task: Omit<BurstRequest, 'type'>): Promise<BurstSummary> {
    return this.#ask({ type: 'burst', ...task }) as Promise<BurstSummary>;
  }

  sequence(task: Omit<SequenceRequest, 'type'>): Promise<SequenceSummary> {
    return this.#ask({ type: 'sequence', ...task }) as Promise<SequenceSummary>;
  }

  #ask(task: LoadRequest): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#child.send({ ...task, id });
    });
  }

  close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.#child.once('exit', () => resolve());
      this.#child.disconnect();
    });
  }
}
