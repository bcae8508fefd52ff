export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure the CLI itself detects; printed as `berth: CODE: message`, ending with `exitCode`. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Bad flags or arguments the parser could not catch (exit 2, like commander's own). */
export class UsageError extends CliError {
  constructor(message: string) {
    super('BERTH_USAGE', message, EXIT_USAGE);
    this.name = 'UsageError';
  }
}
