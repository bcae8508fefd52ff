import { BerthApiError, type BerthClient, type Deployment, type DeploymentProgress } from '../client/index.js';
import { canPrompt, type CliContext, type OutputStream } from './context.js';
import { CliError, EXIT_FAILURE } from './errors.js';
import { shortTime, styleFor, type Style } from './output.js';
import { createProgress, type Progress } from './progress.js';
import { confirm } from './prompt.js';

export interface WatchTarget {
  readonly name: string;
  /** The colour deployed into; its events only are shown. */
  readonly colour?: string;
  readonly revision: number;
  readonly deployment: number;
}

/**
 * Waits for a deployment, showing its steps and the service's events as they
 * happen. Ctrl-C asks whether to cancel the deployment when someone can
 * answer, and otherwise just stops waiting (exit 1) and says how to follow
 * it. Resolves with the finished deployment whatever its outcome.
 */
export async function watchDeployment(ctx: CliContext, client: BerthClient, target: WatchTarget, out: OutputStream, timeoutMs: number): Promise<Deployment> {
  const style = styleFor(ctx, out);
  const progress = createProgress(out);
  const stop = new AbortController();
  let handlerFailure: unknown = null;
  // Typed by assertion so the closures' assignments are not narrowed away at the finally below.
  let asking = null as AbortController | null;
  let cancelRequested = false;

  const onInterrupt = async (): Promise<void> => {
    // Ctrl-C again while the question is open: that is a "no".
    if (asking) {
      asking.abort();
      return;
    }
    if (cancelRequested || !canPrompt(ctx)) {
      stop.abort();
      return;
    }
    asking = new AbortController();
    progress.pause();
    const yes = await confirm(ctx, `Cancel deployment ${target.deployment} of ${target.name}?`, asking.signal);
    progress.resume();
    asking = null;
    if (!yes) {
      stop.abort();
      return;
    }
    cancelRequested = true;
    try {
      await client.cancelDeployment(target.name, target.deployment);
      progress.log(`cancelling deployment ${target.deployment}: its new tasks are removed, the previous revision keeps serving`);
    } catch (error) {
      // 409: it already switched traffic, so it can only go forward; keep watching it finish.
      if (error instanceof BerthApiError && error.status === 409) progress.log(`too late to cancel: ${error.message}`);
      else {
        handlerFailure = error;
        stop.abort();
      }
    }
  };
  const unsubscribe = ctx.onInterrupt(() => {
    onInterrupt().catch((error: unknown) => {
      handlerFailure = error;
      stop.abort();
    });
  });

  try {
    return await client.waitForDeployment(target.name, target.deployment, {
      signal: stop.signal,
      timeoutMs,
      ...(target.colour === undefined ? {} : { colour: target.colour }),
      onProgress: (p) => show(progress, style, target, p),
    });
  } catch (error) {
    if (!stop.signal.aborted) throw error;
    if (handlerFailure !== null) throw handlerFailure;
    throw new CliError(
      'BERTH_INTERRUPTED',
      `Stopped waiting; deployment ${target.deployment} goes on on the server. Follow it with 'berth events ${target.name} -f' or 'berth status ${target.name}'`,
      // berth's exit codes are 0, 1 and 2 only: an interrupted wait did not succeed.
      EXIT_FAILURE,
    );
  } finally {
    unsubscribe();
    // A question still open has nothing left to decide, and would hold stdin (and the process) open.
    asking?.abort();
    progress.stop();
  }
}

function show(progress: Progress, style: Style, target: WatchTarget, p: DeploymentProgress): void {
  if (p.kind === 'event') {
    progress.log(`${style.dim(shortTime(p.event.created_at).slice(11))}  ${p.event.message}`);
    return;
  }
  const d = p.deployment;
  const description = d.step_description === d.step ? '' : ` (${d.step_description})`;
  progress.status(`${target.name}${target.colour === undefined ? '' : `-${target.colour}`} revision ${d.revision}: ${style.cyan(d.step)}${description}`);
}
