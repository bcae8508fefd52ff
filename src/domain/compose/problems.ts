import { BerthError } from '../errors.js';

/** One thing wrong with a compose file: where (a path like `services.web.ports[0]`, a line when known) and why. */
export interface ComposeProblem {
  readonly path: string;
  readonly message: string;
  /** 1-based line in the file the YAML parser gave, when it gave one. */
  readonly line?: number;
  readonly file?: string;
}

/** A compose file berth cannot run: every problem found, each with its path. */
export class InvalidComposeError extends BerthError {
  readonly code = 'BERTH_INVALID_COMPOSE';
  readonly status = 400;
  override readonly details: Readonly<Record<string, unknown>>;
  constructor(readonly problems: readonly ComposeProblem[]) {
    super(
      problems.length === 1
        ? `The compose file is invalid: ${describeProblem(problems[0] as ComposeProblem)}`
        : `The compose file has ${problems.length} problems: ${problems.map(describeProblem).join('; ')}`,
    );
    this.details = { problems };
  }
}

export function describeProblem(problem: ComposeProblem): string {
  const where = [problem.file, problem.line === undefined ? undefined : `line ${problem.line}`].filter(Boolean).join(' ');
  return `${problem.path}${where ? ` (${where})` : ''}: ${problem.message}`;
}
