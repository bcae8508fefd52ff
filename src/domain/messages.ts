/** Event messages, in plain words, in one place so their wording stays consistent. */
const MiB = 1024 * 1024;

export function taskExited(task: string, exitCode: number | null, oomKilled: boolean, limitBytes: number): string {
  if (oomKilled) {
    return `task ${task} exited with code ${exitCode ?? 137}: out of memory (limit ${Math.round(limitBytes / MiB)} MiB)`;
  }
  return `task ${task} exited with code ${exitCode ?? 'unknown'}${exitMeaning(exitCode)}`;
}

function exitMeaning(code: number | null): string {
  switch (code) {
    case 137:
      return ' (killed)';
    case 139:
      return ' (segmentation fault)';
    case 143:
      return ' (terminated)';
    case 126:
      return ' (command not executable)';
    case 127:
      return ' (command not found)';
    default:
      return '';
  }
}

export function startedTasks(names: readonly string[]): string {
  return `started ${names.length} task${names.length === 1 ? '' : 's'} (${names.join(', ')})`;
}

export function stoppedTasks(names: readonly string[]): string {
  return `stopped ${names.length} task${names.length === 1 ? '' : 's'} (${names.join(', ')})`;
}

/** A new task's probe got an answer that is not a pass: in words a user reads at once. */
export function probeFailed(task: string, path: string, description: string): string {
  const code = /codes: \[(\d+)\]/.exec(description)?.[1];
  return code ? `task ${task}: GET ${path} answered ${code}` : `task ${task}: GET ${path} failed: ${description}`;
}
