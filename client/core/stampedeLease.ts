import type { EntryRef } from '../types';

export interface HeldLease {
  /** Whether this caller holds the lease and should compute the value. */
  readonly acquired: boolean;
  /** Gives the lease up early (a no-op when not acquired). */
  release(): Promise<void>;
}

/**
 * Cross-instance stampede protection for `wrap`: a short lease per key so that, of N machines
 * missing the same key, one computes and the others wait for its value.
 */
export interface StampedeLease {
  acquire(ref: EntryRef): Promise<HeldLease>;
  /**
   * Waits (polling `lookup`) until another holder's value appears or its lease lapses; resolves
   * the lookup that found it, or `undefined` to compute locally.
   */
  waitFor<T>(ref: EntryRef, lookup: () => Promise<{ found: boolean; value: T | undefined }>): Promise<{ found: boolean; value: T | undefined } | undefined>;
}
