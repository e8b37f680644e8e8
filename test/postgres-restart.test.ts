import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { spawnServeBeside } from './helpers/cluster.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { cleanUpServes } from './helpers/serve-process.ts';
import { freePort, until } from './helpers/waiting.ts';

// A PostgreSQL restart under load (issue 7): every instance rides it out by itself. The test runs
// its own PostgreSQL cluster on a free port (Debian's pg_createcluster), so it never restarts the
// shared one, and drops it afterwards.

/** The PostgreSQL version whose cluster tools are installed, or why this test cannot run here. */
function clusterTools(): { version: string } | { skip: string } {
  if (!existsSync('/usr/bin/pg_createcluster') || !existsSync('/usr/bin/pg_ctlcluster') || !existsSync('/etc/postgresql')) {
    return { skip: 'needs Debian’s PostgreSQL cluster tools (pg_createcluster, pg_ctlcluster; package postgresql-common) to run its own PostgreSQL' };
  }
  const version = readdirSync('/etc/postgresql')
    .filter((name) => existsSync(`/usr/lib/postgresql/${name}/bin/initdb`))
    .sort((a, b) => Number(b) - Number(a))[0];
  if (!version) return { skip: 'no PostgreSQL server binaries under /usr/lib/postgresql' };
  try {
    accessSync(`/etc/postgresql/${version}`, constants.W_OK);
  } catch {
    return { skip: `creating a PostgreSQL cluster needs root or the postgres user (cannot write /etc/postgresql/${version})` };
  }
  return { version };
}

const tools = clusterTools();
const skip = 'skip' in tools ? tools.skip : false;

/** A throwaway PostgreSQL cluster of its own, trusted on 127.0.0.1. */
class OwnCluster {
  readonly name = `tk${randomBytes(4).toString('hex')}`;
  readonly version: string;
  readonly port: number;

  constructor(version: string, port: number) {
    this.version = version;
    this.port = port;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async create(): Promise<void> {
    await promisify(execFile)('pg_createcluster', [this.version, this.name, '-p', String(this.port), '--', '--auth=trust']);
    await this.ctl('start');
  }

  /** Asynchronous, so the load keeps running while PostgreSQL stops and starts. */
  async ctl(action: 'start' | 'stop'): Promise<void> {
    await promisify(execFile)('pg_ctlcluster', ['--skip-systemctl-redirect', this.version, this.name, action]);
  }

  drop(): void {
    try {
      execFileSync('pg_dropcluster', ['--stop', this.version, this.name], { stdio: 'ignore' });
    } catch {
      // Never created, or already gone.
    }
  }
}

interface Answer {
  /** `down`: PostgreSQL stopped more than a second ago, past every cache's one-second bound. */
  at: 'up' | 'stopping' | 'down' | 'back';
  source: string;
  status: number;
  code: string | null;
}

describe('a PostgreSQL restart under load', { skip }, () => {
  let cluster: OwnCluster;
  let h: Harness;

  before(async () => {
    cluster = new OwnCluster((tools as { version: string }).version, await freePort());
    // Dropped however this process ends, even if a hook never runs.
    process.once('exit', () => cluster.drop());
    await cluster.create();
    h = await startHarness({
      env: { DATABASE_URL: cluster.url, TOKENKEEPER_DB_STATEMENT_TIMEOUT_MS: '2000', TOKENKEEPER_DB_CONNECT_TIMEOUT_MS: '1000' },
    });
  });

  after(async () => {
    try {
      await cleanUpServes();
      await h?.close();
    } finally {
      cluster?.drop();
    }
  });

  test('instances serve valid cached tokens or 503 storage_unavailable meanwhile, never a 500, and recover by themselves', async () => {
    const serve = await spawnServeBeside(h, {
      DATABASE_URL: cluster.url,
      TOKENKEEPER_DB_STATEMENT_TIMEOUT_MS: '2000',
      TOKENKEEPER_DB_CONNECT_TIMEOUT_MS: '1000',
    });
    const url = serve.url;
    const ready = async (): Promise<{ notifications?: { status: string } } | null> => {
      const response = await fetch(`${url}/ready`).catch(() => null);
      return response?.ok ? ((await response.json()) as { notifications?: { status: string } }) : null;
    };
    await until(async () => (await ready())?.notifications?.status === 'live', 'the serve process, listening', 30_000);

    const id = await h.connect('restart-owner', 'rick');
    const auth = { authorization: `Bearer ${h.apiKey}` };
    let phase: Answer['at'] = 'up';
    const answers: Answer[] = [];
    const record = async (source: string, call: () => Promise<{ status: number; body: unknown }>): Promise<void> => {
      const at = phase;
      const { status, body } = await call();
      answers.push({ at, source, status, code: (body as { error?: { code?: string } } | null)?.error?.code ?? null });
    };
    const overHttp = (path: string) => async () => {
      const response = await fetch(`${url}${path}`, { headers: auth });
      return { status: response.status, body: await response.json().catch(() => null) };
    };
    const calls: Record<string, () => Promise<{ status: number; body: unknown }>> = {
      'serve: token': overHttp(`/v1/connections/${id}/token`),
      'serve: connection': overHttp(`/v1/connections/${id}`),
      'in-process: token': () => h.api('GET', `/v1/connections/${id}/token`),
      'in-process: connection': () => h.api('GET', `/v1/connections/${id}`),
    };
    let loading = true;
    const load = Promise.all(
      Object.entries(calls).map(async ([source, call]) => {
        while (loading) {
          await record(source, call);
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      }),
    );
    try {
      await until(() => answers.filter((answer) => answer.status === 200).length >= 8, 'answers while PostgreSQL is up');
      phase = 'stopping';
      await cluster.ctl('stop');
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      phase = 'down';
      const downFrom = answers.length;
      await until(() => answers.slice(downFrom).filter((answer) => answer.source === 'serve: token').length >= 10, 'requests while PostgreSQL is down');
      phase = 'back';
      await cluster.ctl('start');
      await until(async () => (await ready())?.notifications?.status === 'live', 'the serve process to listen again', 30_000);
      const backFrom = answers.length;
      await until(
        () => Object.keys(calls).every((source) => answers.slice(backFrom).some((answer) => answer.source === source && answer.status === 200)),
        'every instance to answer from the database again',
        30_000,
      );
    } finally {
      loading = false;
      await load;
    }

    const unexpected = answers.filter((answer) => !(answer.status === 200 || (answer.status === 503 && answer.code === 'storage_unavailable')));
    assert.deepEqual(unexpected, [], `only 200 or 503 storage_unavailable; serve output:\n${serve.output().slice(-3_000)}`);
    const down = answers.filter((answer) => answer.at === 'down');
    for (const source of ['serve: token', 'in-process: token']) {
      assert.ok(down.some((answer) => answer.source === source && answer.status === 200), `${source}: the still-valid token is served while PostgreSQL is down`);
    }
    for (const source of ['serve: connection', 'in-process: connection']) {
      assert.ok(down.some((answer) => answer.source === source && answer.status === 503), `${source}: what needs the database answers 503 meanwhile`);
    }
    assert.ok(serve.isRunning(), 'the serve process is still running');

    // After the restart: new rows are served (read from the database), and changes reach the
    // other instance's cache again through its new notification connection.
    const fresh = await h.connect('after-restart', 'ria');
    const served = await fetch(`${url}/v1/connections/${fresh}/token`, { headers: auth });
    assert.equal(served.status, 200);
    assert.equal((await h.api('DELETE', `/v1/connections/${fresh}`)).status, 200);
    await until(async () => (await fetch(`${url}/v1/connections/${fresh}/token`, { headers: auth })).status === 404, 'the deletion to reach the serve process', 5_000);
  });
});
