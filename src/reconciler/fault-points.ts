/**
 * Named places where a test can make the server die as if by `kill -9`, to
 * prove that every step of a deployment resumes after a crash.
 */
export interface FaultPoints {
  hit(point: string): void;
}

export const NO_FAULTS: FaultPoints = { hit: () => {} };

/**
 * Armed by `BERTH_FAULT_POINT=<point>`: the process SIGKILLs itself the first
 * time it reaches that point. Points: `deployment:<step>` before a step's work,
 * `task:created` between creating a container and starting it, `switch:routed` between a colour
 * switch's route table write and its store update, `certificate:issued` and
 * `certificate:stored` (src/tls/acme-certificates.ts); for databases `backup:taken`,
 * `backup:restored`, `restore:receiving` (a MiB of an upload loaded while it arrives),
 * `restore:received` (the upload whole on disk, its load maybe not finished), `restore:loaded`,
 * `restore:swapped` (reported succeeded, the old data not
 * yet dropped), and `rotate:key-added`, `rotate:resealed` of
 * `berth server rotate-key`.
 */
export function faultPointsFromEnv(env: NodeJS.ProcessEnv): FaultPoints {
  const armed = env.BERTH_FAULT_POINT;
  if (!armed) return NO_FAULTS;
  return {
    hit(point) {
      if (point === armed) process.kill(process.pid, 'SIGKILL');
    },
  };
}
