import type { StoredEntry } from '../../types';

/** A write or delete the shared tier missed, to be sent again once it answers. */
export type PendingOp =
  | { readonly kind: 'set'; readonly entry: StoredEntry }
  | { readonly kind: 'delete'; readonly namespace: string; readonly key: string };

const SEP = '\u0000';

/**
 * Writes and deletes that reached the local tiers but not the shared one during an outage, so
 * they can be replayed when it answers again instead of being overwritten by the shared tier's
 * older answer after the local cap. One op per key (the latest wins), oldest first, bounded:
 * past `maxOps` the oldest op is dropped and counted. In memory only: a process that exits
 * during an outage loses its queue (the local copies stay, and are re-checked after the cap).
 */
export class ReplayQueue {
  private readonly ops = new Map<string, PendingOp>();
  /** Ops dropped because the queue was full. */
  dropped = 0;
  constructor(private readonly maxOps: number) {}

  get size(): number {
    return this.ops.size;
  }

  recordSet(entry: StoredEntry): void {
    this.put(entry.namespace + SEP + entry.key, { kind: 'set', entry });
  }

  recordDelete(namespace: string, key: string): void {
    this.put(namespace + SEP + key, { kind: 'delete', namespace, key });
  }

  /** What is waiting for this key, if anything. */
  pendingKind(namespace: string, key: string): PendingOp['kind'] | undefined {
    return this.ops.size === 0 ? undefined : this.ops.get(namespace + SEP + key)?.kind;
  }

  /** A later write or delete reached the shared tier: the older pending op is superseded. */
  settleKey(namespace: string, key: string): void {
    if (this.ops.size > 0) this.ops.delete(namespace + SEP + key);
  }

  forgetNamespace(namespace: string | undefined): void {
    if (namespace === undefined) {
      this.ops.clear();
      return;
    }
    const prefix = namespace + SEP;
    for (const id of [...this.ops.keys()]) if (id.startsWith(prefix)) this.ops.delete(id);
  }

  /** The ops to replay now, oldest first. */
  snapshot(): [string, PendingOp][] {
    return [...this.ops];
  }

  /** Removes ops that were replayed (or have expired), unless a newer op for the same key arrived meanwhile. */
  settle(done: readonly [string, PendingOp][]): void {
    for (const [id, op] of done) if (this.ops.get(id) === op) this.ops.delete(id);
  }

  private put(id: string, op: PendingOp): void {
    this.ops.delete(id);
    this.ops.set(id, op);
    while (this.ops.size > this.maxOps) {
      const oldest = this.ops.keys().next().value as string;
      this.ops.delete(oldest);
      this.dropped += 1;
    }
  }
}
