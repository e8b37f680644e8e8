import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';

const REPO = fileURLToPath(new URL('..', import.meta.url));

test('LICENSE holds the Apache License 2.0 that package.json names, and the package ships it', async () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { license: string };
  assert.equal(pkg.license, 'Apache-2.0');
  const license = readFileSync(new URL('../LICENSE', import.meta.url), 'utf8');
  assert.match(license, /^\s*Apache License\n\s*Version 2\.0, January 2004\n\s*http:\/\/www\.apache\.org\/licenses\/\n/);
  assert.match(license, /END OF TERMS AND CONDITIONS/);
  // The appendix is the standard template, not someone else's copyright line.
  assert.match(license, /\n {3}Copyright \[yyyy\] \[name of copyright owner\]\n/);
  assert.equal(license.match(/^\s*Copyright /gm)?.length, 1);
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO });
  const report = JSON.parse(stdout.slice(stdout.indexOf('['))) as [{ files: { path: string }[] }];
  assert.ok(report[0].files.some((file) => file.path === 'LICENSE'), 'npm pack includes LICENSE');
});
