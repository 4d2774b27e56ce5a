import type { StoredEntry } from '../../types';

/** A write, delete or clear the shared tier missed, to be sent again once it answers. */
export type PendingOp =
  | { readonly kind: 'set'; readonly entry: StoredEntry }
  | { readonly kind: 'delete'; readonly namespace: string; readonly key: string }
  /** `namespace` undefined: every namespace. */
  | { readonly kind: 'clear'; readonly namespace: string | undefined };

/** One queued op: `id` names what it replaces (one op per key, one per cleared namespace); `seq` orders it. */
export interface QueuedOp {
  readonly id: string;
  readonly seq: number;
  readonly op: PendingOp;
}

/**
 * Where a hybrid keeps its replay queue so that it outlives the process: the file tier provides
 * one in its own directory (see `FileBackend.openReplayStore`). Every call is synchronous and
 * atomic on its own; values are the `StoredEntry` bytes as the hybrid got them (already sealed
 * by the encryption layer above), never plaintext.
 */
export interface ReplayStore {
  /** Every queued op, oldest first, and how many ops were dropped past the bound since the last `acknowledgeDropped`. */
  load(): { ops: QueuedOp[]; dropped: number };
  /**
   * Queues `op` under `id`, replacing an older op with that id (newest write wins), then drops the
   * oldest ops past `maxOps` and counts them. Returns the op's sequence number and how many were dropped.
   */
  put(id: string, op: PendingOp, maxOps: number): { seq: number; dropped: number };
  /** Removes ops by id; with `seq`, only if no newer op for that id replaced it meanwhile. */
  remove(ops: readonly { readonly id: string; readonly seq?: number }[]): void;
  /** Removes every op of `namespace` (undefined: every op), including an earlier clear of it. */
  forgetNamespace(namespace: string | undefined): void;
  /** Resets the dropped count once it has been reported. */
  acknowledgeDropped(): void;
}

/** A backend that can keep a hybrid's replay queue durable (the file tier). */
export interface ReplayStoreProvider {
  openReplayStore(): ReplayStore;
}

export function providesReplayStore(backend: object): backend is ReplayStoreProvider {
  return typeof (backend as Partial<ReplayStoreProvider>).openReplayStore === 'function';
}
