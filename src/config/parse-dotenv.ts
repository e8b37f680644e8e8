import { ConfigError, type ConfigProblem } from './config-error.ts';

const ASSIGNMENT = /^(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*)$/s;
const EXPANSION = /\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*/;
const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', '"': '"', $: '$' };

/**
 * Parses a `.env` file: `KEY=value` lines, blank lines, `# comments`, an optional `export `
 * prefix, single quotes (literal), double quotes (`\n`, `\r`, `\t`, `\\`, `\"` escapes; may span
 * lines, e.g. for a PEM key) and unquoted values. In an unquoted value `#` starts a comment only
 * after whitespace, so a secret like `abc#def` is kept whole (several dotenv parsers cut it).
 *
 * Nothing is silently wrong: a line that is not an assignment, an unterminated quote, text after
 * a closing quote, a variable set twice, or `$VAR` / `${VAR}` (expansion is not supported; single
 * quotes keep a `$` literally) is reported, with its line number, as a `ConfigError` that lists
 * every problem in the file. Messages never quote a line, since lines hold secrets.
 */
export function parseDotenv(text: string, source = '.env'): Record<string, string> {
  const contents = readDotenvText(text, source);
  if (contents.problems.length > 0) throw new ConfigError(contents.problems);
  return contents.values;
}

export interface DotenvContents {
  /** The variables of the lines that could be read. */
  values: Record<string, string>;
  /** Variables left without a value because their line could not be read. */
  malformed: Set<string>;
  /** Every problem in the file, as `parseDotenv` reports them. */
  problems: ConfigProblem[];
}

/**
 * `parseDotenv` without the throw: the lines that could be read, and the problems of the others,
 * so that `loadConfig` can check the rest of the file and report everything in one round instead
 * of hiding a wrong port behind a `$VAR` on another line.
 */
export function readDotenvText(text: string, source = '.env'): DotenvContents {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  const values: Record<string, string> = {};
  const definedOn = new Map<string, number>();
  const problems: ConfigProblem[] = [];

  for (let index = 0; index < lines.length; index++) {
    const lineNumber = index + 1;
    const line = lines[index]!.trim();
    if (line === '' || line.startsWith('#')) continue;

    const match = ASSIGNMENT.exec(line);
    if (match === null) {
      problems.push({
        variable: `${source} line ${lineNumber}`,
        message: 'is not a KEY=value assignment (expected e.g. TOKENKEEPER_PORT=3170; names are letters, digits and _)',
      });
      continue;
    }
    const key = match[1]!;
    const rest = match[2]!;
    let value: string;
    let problem: string | null = null;

    if (rest.startsWith('"') || rest.startsWith("'")) {
      const quote = rest[0]!;
      // A quoted value may continue over the following lines until its closing quote.
      let body = rest.slice(1);
      let close = findClosingQuote(body, quote);
      while (close === -1 && index + 1 < lines.length) {
        index++;
        body += `\n${lines[index]!}`;
        close = findClosingQuote(body, quote);
      }
      if (close === -1) {
        problems.push({ variable: key, message: `the ${quote} opened on ${source} line ${lineNumber} is never closed` });
        continue;
      }
      const after = body.slice(close + 1);
      if (!/^\s*(#.*)?$/s.test(after)) {
        problem = `unexpected text after the closing ${quote} on ${source} line ${lineNumber}; quote the whole value`;
      }
      const inner = body.slice(0, close);
      value = quote === '"' ? unescapeDoubleQuoted(inner) : inner;
      if (quote === '"' && EXPANSION.test(inner.replace(/\\\$/g, ''))) problem ??= expansionMessage(source, lineNumber);
    } else {
      const comment = rest.search(/\s#/);
      value = (comment === -1 ? rest : rest.slice(0, comment)).trim();
      if (EXPANSION.test(value)) problem = expansionMessage(source, lineNumber);
    }

    const previous = definedOn.get(key);
    if (previous !== undefined) {
      problem ??= `is set twice in ${source} (lines ${previous} and ${lineNumber}); keep one`;
    }
    if (problem !== null) {
      problems.push({ variable: key, message: problem });
      continue;
    }
    definedOn.set(key, lineNumber);
    values[key] = value;
  }

  const malformed = new Set(problems.map((problem) => problem.variable).filter((name) => !Object.hasOwn(values, name) && /^[A-Za-z_]\w*$/.test(name)));
  return { values, malformed, problems };
}

function findClosingQuote(body: string, quote: string): number {
  for (let i = 0; i < body.length; i++) {
    if (quote === '"' && body[i] === '\\') {
      i++;
      continue;
    }
    if (body[i] === quote) return i;
  }
  return -1;
}

/** Known escapes become their character; an unknown one (`\q`) is kept as written, like a shell. */
function unescapeDoubleQuoted(inner: string): string {
  return inner.replace(/\\(.)/gs, (whole, char: string) => ESCAPES[char] ?? whole);
}

function expansionMessage(source: string, lineNumber: number): string {
  return (
    `${source} line ${lineNumber} uses $VAR expansion, which Tokenkeeper does not do; ` +
    "write the value itself, or wrap it in single quotes if the $ is part of it"
  );
}
