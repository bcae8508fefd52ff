import { Command, CommanderError } from 'commander';
import { BerthError } from '../domain/errors.js';
import { registerServerCommand } from './server-command.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function buildProgram(): Command {
  const program = new Command('berth')
    .description('Deploy and run small HTTP services on Docker')
    .exitOverride()
    .showHelpAfterError();
  registerServerCommand(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    process.exitCode = exitCodeFor(error);
    if (error instanceof CommanderError) return;
    process.stderr.write(`berth: ${describe(error)}\n`);
  }
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  if (error instanceof BerthError && error.code === 'BERTH_CONFIG_INVALID') return EXIT_USAGE;
  return EXIT_FAILURE;
}

function describe(error: unknown): string {
  if (error instanceof BerthError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
