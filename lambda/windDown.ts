import type { Context } from 'aws-lambda';

/**
 * Aborts the job's signal once less than `windDownMs` is left of the invocation: checked after
 * every batch (the client reports progress per batch) and by a timer for a batch that runs long,
 * and at once when middy's hard-stop signal aborts. The client then finishes and checkpoints the
 * batches in flight and resolves with `stopped: true`.
 */
export class WindDown {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly abort = (): void => this.controller.abort();
  private readonly hardStop: AbortSignal;
  readonly signal = this.controller.signal;

  constructor(
    private readonly context: Context,
    private readonly windDownMs: number,
    hardStop: AbortSignal,
  ) {
    this.timer = setTimeout(this.abort, Math.max(0, context.getRemainingTimeInMillis() - windDownMs));
    // A pending wind-down must not keep a finished invocation's event loop alive.
    this.timer.unref();
    if (hardStop.aborted) this.abort();
    else hardStop.addEventListener('abort', this.abort, { once: true });
    this.hardStop = hardStop;
  }

  /** The job's progress listener: the remaining time is only known by asking, so ask per batch. */
  readonly check = (): void => {
    if (!this.signal.aborted && this.context.getRemainingTimeInMillis() < this.windDownMs) this.controller.abort();
  };

  dispose(): void {
    clearTimeout(this.timer);
    this.hardStop.removeEventListener('abort', this.abort);
  }
}
