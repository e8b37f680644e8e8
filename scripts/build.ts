/**
 * `npm run build` (and `prepack`): JavaScript and declarations into `dist/`, for the installed
 * package; the repository itself runs the TypeScript sources directly.
 *
 * One step tsc cannot do: `src/sandbox/oidc-provider.d.ts` describes a dependency that ships no
 * types, and tsc neither copies a hand-written `.d.ts` nor keeps a reference to it in its output.
 * Without it a consumer that type-checks libraries (`skipLibCheck: false`) cannot resolve
 * `oidc-provider` in our declarations, so it is copied and referenced from the package's entry.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const at = (path: string): URL => new URL(path, root);
const tsc = fileURLToPath(at('node_modules/typescript/bin/tsc'));

rmSync(at('dist'), { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
copyFileSync(at('src/sandbox/oidc-provider.d.ts'), at('dist/sandbox/oidc-provider.d.ts'));
const entry = at('dist/index.d.ts');
writeFileSync(entry, `/// <reference path="./sandbox/oidc-provider.d.ts" />\n${readFileSync(entry, 'utf8')}`);
