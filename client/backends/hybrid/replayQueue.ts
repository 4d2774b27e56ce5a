import type { StoredEntry } from '../../types';
import type { PendingOp, QueuedOp, ReplayStore } from './replayStore';

export type { PendingOp } from './replayStore';

const SEP = '\u0000';
/** Ids of clears cannot collide with key ids (`namespace SEP key`), which always hold a SEP. */
const CLEAR_ALL = '\u0002';
const clearId = (namespace: string | undefined): string => (namespace === undefined ? CLEAR_ALL : `\u0001${namespace}`);

/**
 * Writes, deletes and clears that reached the local tiers but not the shared one during an
 * outage, so they can be replayed when it answers again instead of being overwritten by the
 * shared tier's older answer after the local cap. One op per key (the latest wins), oldest
 * first, bounded: past `maxOps` the oldest op is dropped and counted. A clear drops the ops of
 * its namespace queued before it and is replayed before the ops queued after it.
 *
 * With a {@link ReplayStore} (the file tier's), every change is written through to it, the queue
 * is loaded from it at start, and a replay takes its snapshot from it: a process that exits
 * mid-outage leaves its ops for the next one, and ops settled by another process sharing the
 * directory are not replayed again. Without one, the queue lives in memory only.
 */
export class ReplayQueue {
  private readonly ops = new Map<string, QueuedOp>();
  private seq = 0;
  /** Ops dropped because the queue was full, in this process. */
  dropped = 0;
  /** Ops an earlier process dropped past the bound (read from the store at start). */
  readonly droppedEarlier: number;

  /**
   * @param onStoreError called when the store fails; the queue then carries on in memory for that op.
   * @param onDrop called with the number of ops just dropped past the bound.
   * @param onQueue called with each op queued (after any drop it caused).
   */
  constructor(
    private readonly maxOps: number,
    private readonly store?: ReplayStore,
    private readonly onStoreError: (operation: string, err: unknown) => void = () => undefined,
    private readonly onDrop: (count: number) => void = () => undefined,
    private readonly onQueue: (op: PendingOp) => void = () => undefined,
  ) {
    let earlier = 0;
    if (store) {
      const loaded = this.guard('load', () => store.load());
      if (loaded) {
        for (const q of loaded.ops) this.ops.set(q.id, q);
        this.seq = Math.max(0, ...loaded.ops.map((q) => q.seq));
        earlier = loaded.dropped;
        if (earlier > 0) this.guard('acknowledgeDropped', () => store.acknowledgeDropped());
      }
    }
    this.droppedEarlier = earlier;
  }

  get size(): number {
    return this.ops.size;
  }

  /** Whether the queue is written through to a store that outlives the process. */
  get durable(): boolean {
    return this.store !== undefined;
  }

  recordSet(entry: StoredEntry): void {
    this.put(entry.namespace + SEP + entry.key, { kind: 'set', entry });
  }

  recordDelete(namespace: string, key: string): void {
    this.put(namespace + SEP + key, { kind: 'delete', namespace, key });
  }

  /** A clear the shared tier missed: earlier ops of the namespace are moot, and it replays before later ones. */
  recordClear(namespace: string | undefined): void {
    this.forgetNamespace(namespace);
    this.put(clearId(namespace), { kind: 'clear', namespace });
  }

  /** What is waiting for this key, if anything. */
  pendingKind(namespace: string, key: string): PendingOp['kind'] | undefined {
    return this.ops.size === 0 ? undefined : this.ops.get(namespace + SEP + key)?.op.kind;
  }

  /** A later write or delete reached the shared tier: the older pending op is superseded. */
  settleKey(namespace: string, key: string): void {
    if (this.ops.size === 0) return;
    const id = namespace + SEP + key;
    if (!this.ops.delete(id)) return;
    if (this.store) this.guard('remove', () => this.store!.remove([{ id }]));
  }

  /** A clear reached the shared tier (or was asked for): pending ops of its namespace must not come back. */
  forgetNamespace(namespace: string | undefined): void {
    if (namespace === undefined) this.ops.clear();
    else {
      const prefix = namespace + SEP;
      for (const id of [...this.ops.keys()]) if (id.startsWith(prefix) || id === clearId(namespace)) this.ops.delete(id);
    }
    if (this.store) this.guard('forgetNamespace', () => this.store!.forgetNamespace(namespace));
  }

  /**
   * The ops to replay now, oldest first. From the store when there is one: it also holds ops of
   * other processes sharing the directory, and not those another process already settled.
   */
  snapshot(): QueuedOp[] {
    if (this.store) {
      const loaded = this.guard('load', () => this.store!.load());
      if (loaded) return loaded.ops;
    }
    return [...this.ops.values()];
  }

  /** Removes ops that were replayed (or have expired), unless a newer op for the same key arrived meanwhile. */
  settle(done: readonly QueuedOp[]): void {
    for (const q of done) if (this.ops.get(q.id)?.seq === q.seq) this.ops.delete(q.id);
    if (this.store) this.guard('remove', () => this.store!.remove(done.map((q) => ({ id: q.id, seq: q.seq }))));
  }

  private put(id: string, op: PendingOp): void {
    let seq = this.seq + 1;
    let droppedNow = 0;
    const stored = this.store ? this.guard('put', () => this.store!.put(id, op, this.maxOps)) : undefined;
    if (stored) seq = stored.seq;
    this.seq = Math.max(this.seq, seq);
    this.ops.delete(id);
    this.ops.set(id, { id, seq, op });
    while (this.ops.size > this.maxOps) {
      const oldest = this.ops.keys().next().value as string;
      this.ops.delete(oldest);
      droppedNow += 1;
    }
    // The store bounds itself in the same call; it may also have dropped ops of other processes.
    if (stored) droppedNow = Math.max(droppedNow, stored.dropped);
    if (droppedNow > 0) {
      this.dropped += droppedNow;
      this.onDrop(droppedNow);
    }
    this.onQueue(op);
  }

  private guard<T>(operation: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      this.onStoreError(operation, err);
      return undefined;
    }
  }
}
