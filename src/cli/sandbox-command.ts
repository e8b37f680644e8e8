import { runSandboxCommand } from '../sandbox/index.ts';
import type { CliIo } from './io.ts';

/** `tokenkeeper sandbox`: the sandbox provider on its own; its flags and help live in src/sandbox/. */
export async function runSandboxCliCommand(argv: string[], io: CliIo): Promise<number> {
  return runSandboxCommand(argv, { stdout: io.stdout, stderr: io.stderr, signal: io.signal });
}
