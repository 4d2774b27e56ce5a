/**
 * Collapses concurrent calls for the same id into one: while a call for `id` is in flight, later
 * callers get the same promise. Nothing is remembered once it settles (that is the cache's job).
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  run(id: string, fn: () => Promise<T>): Promise<T> {
    const pending = this.inFlight.get(id);
    if (pending) return pending;
    const promise = (async () => {
      try {
        return await fn();
      } finally {
        this.inFlight.delete(id);
      }
    })();
    this.inFlight.set(id, promise);
    return promise;
  }

  /** Whether a call for `id` is in flight. */
  has(id: string): boolean {
    return this.inFlight.has(id);
  }

  get size(): number {
    return this.inFlight.size;
  }
}
