import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { runCli } from '../src/cli/index.ts';

// Terminal examples in the docs that are marked as checked are run here, and their output must
// be what the docs show, byte for byte, so a message can change only together with its docs.
//
// A checked example is a fenced block right after the line `<!-- output checked by
// test/docs-examples.test.ts -->`. In it, a line `$ [NAME=value …] [npx] tokenkeeper <args>` is a
// command, run with only those variables in an empty directory; the lines up to the next command
// are its output (stdout, then stderr).

const REPO = fileURLToPath(new URL('..', import.meta.url));
const MARKER = '<!-- output checked by test/docs-examples.test.ts -->';
const DOCUMENTS = ['docs/configuration.md', 'docs/cli.md'];
const tempDirs: string[] = [];

after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

interface Example {
  command: string;
  output: string;
}

function checkedExamples(markdown: string): Example[] {
  const examples: Example[] = [];
  for (const block of markdown.split(MARKER).slice(1)) {
    const fenced = /^\s*```[^\n]*\n([\s\S]*?)\n```/.exec(block);
    assert.ok(fenced, 'the marker is followed by a fenced block');
    let current: Example | null = null;
    for (const line of fenced[1]!.split('\n')) {
      if (line.startsWith('$ ')) {
        current = { command: line.slice(2), output: '' };
        examples.push(current);
      } else {
        assert.ok(current, 'a checked block starts with a command');
        current.output += `${line}\n`;
      }
    }
  }
  return examples;
}

async function runExample(command: string): Promise<string> {
  assert.doesNotMatch(command, /["'`\\|;&<>]/, `keep checked commands free of quoting and shell syntax: ${command}`);
  const words = command.split(/\s+/);
  const env: Record<string, string> = {};
  while (/^[A-Z_][A-Z0-9_]*=/.test(words[0] ?? '')) {
    const assignment = words.shift()!;
    env[assignment.slice(0, assignment.indexOf('='))] = assignment.slice(assignment.indexOf('=') + 1);
  }
  if (words[0] === 'npx') words.shift();
  assert.equal(words.shift(), 'tokenkeeper', `a checked command runs tokenkeeper: ${command}`);
  const cwd = mkdtempSync(join(tmpdir(), 'tokenkeeper-docs-'));
  tempDirs.push(cwd);
  let stdout = '';
  let stderr = '';
  await runCli(words, { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), env, cwd });
  return stdout + stderr;
}

for (const document of DOCUMENTS) {
  test(`the checked terminal examples in ${document} print what the program prints`, async () => {
    const examples = checkedExamples(readFileSync(join(REPO, document), 'utf8'));
    assert.ok(examples.length > 0, `${document} has checked examples`);
    for (const example of examples) {
      assert.equal(example.output.trimEnd(), (await runExample(example.command)).trimEnd(), `$ ${example.command}`);
    }
  });
}
