import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ConfigProblem } from '../config/index.ts';
import type { ActionDefinition } from './action-definition.ts';
import { actionDefinitionProblems, firstLine } from './action-definition-problems.ts';

export const ACTIONS_DIR_VARIABLE = 'TOKENKEEPER_ACTIONS_DIR';

/** The module files of an actions directory: Node runs TypeScript by stripping its types. */
const MODULE_FILE = /^[^.].*\.(?:ts|mts|js|mjs)$/;
const DECLARATION_FILE = /\.d\.m?ts$/;

export interface LoadedAction {
  definition: ActionDefinition;
  /** The module file it came from. */
  file: string;
}

/**
 * Imports every module directly in `dir` (`.ts`, `.mts`, `.js`, `.mjs`, in name order; no
 * subfolders, so helpers can live in one) and checks what each default-exports: an action
 * definition or an array of them. Every problem, in every file, is returned at once, each naming
 * the file and, when it has a usable one, the action: start-up then stops with all of them listed,
 * as it does for the rest of the configuration.
 */
export async function loadActionModules(dir: string, knownProviders: readonly string[]): Promise<{ actions: LoadedAction[]; problems: ConfigProblem[] }> {
  const actions: LoadedAction[] = [];
  const problems: ConfigProblem[] = [];
  const fail = (message: string): void => {
    problems.push({ variable: ACTIONS_DIR_VARIABLE, message });
  };
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    fail(`${dir} cannot be read (${(error as NodeJS.ErrnoException).code ?? firstLine(error)})`);
    return { actions, problems };
  }
  const files = entries
    .filter((entry) => entry.isFile() && MODULE_FILE.test(entry.name) && !DECLARATION_FILE.test(entry.name))
    .map((entry) => join(dir, entry.name))
    .sort();
  for (const file of files) {
    let module: Record<string, unknown>;
    try {
      module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (error) {
      fail(`${file} cannot be loaded: ${firstLine(error)}`);
      continue;
    }
    if (!('default' in module) || module.default === undefined) {
      fail(`${file} has no default export; end it with \`export default { name, description, providers, input, build }\` (or an array of such objects)`);
      continue;
    }
    const exported = Array.isArray(module.default) ? (module.default as unknown[]) : [module.default];
    if (exported.length === 0) fail(`${file} exports an empty array; export at least one action`);
    exported.forEach((value, index) => {
      const found = actionDefinitionProblems(value, knownProviders);
      if (found.length === 0) {
        actions.push({ definition: value as ActionDefinition, file });
        return;
      }
      const name = (value as { name?: unknown } | null)?.name;
      const which = typeof name === 'string' && name !== '' ? `action ${JSON.stringify(name.slice(0, 60))}` : exported.length > 1 ? `export [${index}]` : 'the default export';
      for (const problem of found) fail(`${file}: ${which}: ${problem}`);
    });
  }
  return { actions, problems };
}
