import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { VariableReader } from './variable-reader.ts';

/**
 * Actions on provider APIs (docs/actions.md): where operators' own action modules live, and which
 * actions are switched off by name.
 */
export interface ActionsConfig {
  /**
   * `TOKENKEEPER_ACTIONS_DIR`: absolute path of a directory whose `.ts`/`.mts`/`.js`/`.mjs`
   * modules each default-export an action definition or an array of them, loaded and checked at
   * start-up. Null when unset: only the built-in actions.
   */
  dir: string | null;
  /**
   * `TOKENKEEPER_ACTIONS_DISABLED`: comma-separated action names that answer `501
   * action_disabled` and send nothing. Only their spelling is checked here; that each names an
   * action (built-in or from the directory) is checked when the actions are loaded, with the
   * closest name suggested, and a wrong one stops start-up too.
   */
  disabled: readonly string[];
}

/** An action name, `google.gmail.send`: two or more lower-case words joined by dots. Also what action definitions are checked against. */
export const ACTION_NAME_PATTERN = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$/;

/** Reads and checks the actions variables; problems are recorded on `read`. */
export function readActionsConfig(read: VariableReader, cwd: string): ActionsConfig {
  return { dir: readActionsDir(read, cwd), disabled: readDisabledActions(read) };
}

function readActionsDir(read: VariableReader, cwd: string): string | null {
  const name = 'TOKENKEEPER_ACTIONS_DIR';
  const value = read.string(name);
  if (value === null) return null;
  const dir = resolve(cwd, value);
  try {
    if (!statSync(dir).isDirectory()) {
      read.fail(name, `${read.shown(name)} is not a directory; give the directory that holds the action modules`);
      return null;
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    read.fail(name, code === 'ENOENT' ? `${dir} does not exist; create it, or unset ${name}` : `${dir} cannot be read (${code ?? 'error'})`);
    return null;
  }
  return dir;
}

function readDisabledActions(read: VariableReader): string[] {
  const name = 'TOKENKEEPER_ACTIONS_DISABLED';
  const value = read.string(name);
  if (value === null) return [];
  const names: string[] = [];
  for (const entry of value.split(',').map((part) => part.trim())) {
    if (entry === '') {
      read.fail(name, 'has an empty entry; list action names separated by commas, e.g. google.gmail.send,slack.chat.post_message');
      continue;
    }
    if (!ACTION_NAME_PATTERN.test(entry)) {
      read.fail(name, `${JSON.stringify(entry.slice(0, 80))} is not an action name (lower-case words joined by dots, e.g. google.gmail.send)`);
      continue;
    }
    if (!names.includes(entry)) names.push(entry);
  }
  return names;
}
