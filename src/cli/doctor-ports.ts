import { createServer } from 'node:net';
import type { Config } from '../config/index.ts';
import type { CheckSection } from './doctor-report.ts';
import { probeHttp } from './http-probe.ts';

/**
 * The ports `serve` will listen on: free, or already held by a running Tokenkeeper (or its
 * sandbox), are fine; held by some other program means `serve` cannot start.
 */
export async function checkPorts(config: Readonly<Config>, section: CheckSection, timeoutMs: number): Promise<void> {
  const mainHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const main = await probeHttp(`http://${mainHost.includes(':') ? `[${mainHost}]` : mainHost}:${config.port}/health`, Math.min(timeoutMs, 3000));
  if (main.status !== null) {
    const isTokenkeeper = main.body !== null && typeof main.body === 'object' && 'storage' in main.body && 'version' in main.body;
    section.lines.push(
      isTokenkeeper
        ? { status: 'ok', text: `Tokenkeeper is running on port ${config.port} (health: HTTP ${main.status})` }
        : {
            status: 'fail',
            text: `port ${config.port} is used by another program (it answered GET /health with HTTP ${main.status})`,
            hint: 'stop that program, or set TOKENKEEPER_PORT to a free port',
          },
    );
  } else {
    section.lines.push(await bindCheck(config.port, config.host, 'TOKENKEEPER_PORT', 'Tokenkeeper'));
  }

  if (!config.sandbox.enabled) {
    section.lines.push({ status: 'skip', text: 'sandbox provider off (TOKENKEEPER_SANDBOX)' });
    return;
  }
  const sandbox = await probeHttp(`http://127.0.0.1:${config.sandbox.port}/.well-known/openid-configuration`, Math.min(timeoutMs, 3000));
  if (sandbox.status !== null) {
    const issuer = (sandbox.body as { issuer?: unknown } | null)?.issuer;
    section.lines.push(
      sandbox.status === 200 && typeof issuer === 'string'
        ? { status: 'ok', text: `the sandbox provider is running at ${issuer}` }
        : {
            status: 'fail',
            text: `port ${config.sandbox.port} is used by another program, not the sandbox provider`,
            hint: 'stop that program, set TOKENKEEPER_SANDBOX_PORT to a free port, or TOKENKEEPER_SANDBOX=false',
          },
    );
  } else {
    section.lines.push(await bindCheck(config.sandbox.port, '127.0.0.1', 'TOKENKEEPER_SANDBOX_PORT', 'the sandbox provider'));
  }
}

async function bindCheck(port: number, host: string, variable: string, what: string): Promise<{ status: 'ok' | 'fail'; text: string; hint?: string }> {
  const outcome = await tryBind(port, host);
  if (outcome === null) return { status: 'ok', text: `port ${port} is free for ${what} (\`tokenkeeper serve\`)` };
  return {
    status: 'fail',
    text: outcome === 'EADDRINUSE' ? `port ${port} (for ${what}) is in use by another program` : `cannot listen on ${host}:${port} for ${what} (${outcome})`,
    hint: `stop that program or set ${variable} to another port`,
  };
}

function tryBind(port: number, host: string): Promise<string | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(null)));
  });
}
