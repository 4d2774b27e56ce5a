import { LRUCache } from 'lru-cache';
import type { StoredEntry } from '../../types';

const SEP = '\u0000';

/**
 * When each local copy of shared data must be re-checked against the shared tier.
 *
 * Local tiers store a promoted entry exactly as the shared tier returned it, with its original
 * `expiresAt`: that field is bound into the envelope's associated data, so a copy with a
 * shortened expiry would fail authentication, and the local files stay readable by a plain
 * FileBackend (migration, CLI). The local TTL cap is therefore kept here, beside the copies, as a
 * per-tier "fresh until" deadline.
 *
 * The index lives in memory and is bounded. A copy it knows nothing about (after a restart, or
 * after the index evicted it) gets the conservative deadline `createdAt + cap`: a copy is never
 * made before its entry was created, so this never lets a copy live longer than the cap.
 */
export class FreshnessIndex {
  /** Per key: for each tier t, its copy's deadline at [2t] and when it was marked at [2t + 1]. */
  private readonly deadlines: LRUCache<string, number[]>;

  constructor(
    private readonly capMs: number,
    maxEntries: number,
  ) {
    this.deadlines = new LRUCache<string, number[]>({ max: maxEntries });
  }

  /** Until when the copy in `tier` may be served without asking the shared tier. */
  freshUntil(tier: number, entry: StoredEntry): number {
    const known = this.deadlines.get(entry.namespace + SEP + entry.key)?.[2 * tier];
    return known ?? entry.createdAt + this.capMs;
  }

  /**
   * When the copy in `tier` was last validated against the shared tier or written; for a copy
   * the index does not know, its `createdAt` (no copy is older than its entry).
   */
  markedAt(tier: number, entry: StoredEntry): number {
    const known = this.deadlines.get(entry.namespace + SEP + entry.key)?.[2 * tier + 1];
    return known ?? entry.createdAt;
  }

  /**
   * Records that `tiers` now hold a copy fresh until `deadline`, validated (or written) at
   * `markedAt`; a copy marked `-Infinity` must be re-checked on its next hit.
   */
  mark(namespace: string, key: string, tiers: readonly number[], deadline: number, markedAt = -Infinity): void {
    if (tiers.length === 0) return;
    const id = namespace + SEP + key;
    const existing = this.deadlines.get(id);
    const next = existing ? [...existing] : [];
    for (const t of tiers) {
      next[2 * t] = deadline;
      next[2 * t + 1] = markedAt;
    }
    this.deadlines.set(id, next);
  }

  forget(namespace: string, key: string): void {
    this.deadlines.delete(namespace + SEP + key);
  }

  forgetNamespace(namespace: string | undefined): void {
    if (namespace === undefined) {
      this.deadlines.clear();
      return;
    }
    const prefix = namespace + SEP;
    for (const id of [...this.deadlines.keys()]) if (id.startsWith(prefix)) this.deadlines.delete(id);
  }

  /** A fresh deadline for a copy validated now: the cap, never past the entry's own expiry. */
  deadlineFrom(now: number, entry: StoredEntry): number {
    const capped = now + this.capMs;
    return entry.expiresAt === null ? capped : Math.min(entry.expiresAt, capped);
  }
}
