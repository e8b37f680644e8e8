import { createServer } from 'node:net';

/**
 * A TCP port free on 127.0.0.1 right now. The service's public URL (and so the OAuth callback
 * registered at the sandbox) must name its port before it listens, hence not port 0.
 */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}
