import { ConfigError, loadConfig } from './config/index.ts';
import { startServer } from './server.ts';

/**
 * `tokenkeeper serve` until the full command-line interface lands: loads the configuration,
 * starts the service (and the sandbox in development) and prints where to go.
 */
export async function serveFallback(argv: string[]): Promise<number> {
  const command = argv[0] ?? 'serve';
  if (command === '--help' || command === 'help') {
    process.stdout.write('usage: tokenkeeper serve\n');
    return 0;
  }
  if (command !== 'serve') {
    process.stderr.write(`tokenkeeper: "${command}" is not available yet; only "serve" is.\n`);
    return 2;
  }
  let config;
  try {
    config = loadConfig({ env: process.env, cwd: process.cwd() });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration problem — fix these and start again:\n${error.message}\n`);
      return 78;
    }
    throw error;
  }
  const server = await startServer(config);
  const lines = [
    '',
    `  Tokenkeeper is running: open ${config.publicUrl}/`,
    server.sandbox ? `  Sandbox OAuth provider: ${server.sandbox.url} (sign in with any username)` : '',
    server.developmentApiKey ? `  Development API key (also in ${config.dataDir}/dev-api-key):\n    ${server.developmentApiKey}` : '',
    server.developmentApiKey ? `  Try: curl -H "Authorization: Bearer ${server.developmentApiKey}" ${config.publicUrl}/v1/connections` : '',
    `  Data: ${config.databasePath}`,
    '',
  ].filter(Boolean);
  process.stdout.write(`${lines.join('\n')}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}
