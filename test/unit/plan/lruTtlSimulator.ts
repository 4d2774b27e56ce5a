/**
 * A discrete-event simulation of one instance's LRU tier with a TTL cap, the ground truth the
 * capacity model's closed form is checked against: Poisson reads and writes over a Zipf law; a
 * read that misses inserts a copy, a write inserts or renews it; a copy dies when its TTL passes
 * (reads do not renew it) or when LRU evicts it past `capacity`.
 */
import { mulberry32, zipfSampler } from '../../../bench/support/random';

export interface SimulationInput {
  readonly keys: number;
  readonly zipf: number;
  readonly readsPerSecond: number;
  readonly writesPerSecond: number;
  readonly ttlS: number;
  readonly capacity: number;
  readonly seconds: number;
  readonly seed: number;
}

/** Returns the read hit ratio after a warm-up of a fifth of the run. */
export function simulateLruTtl(input: SimulationInput): number {
  const random = mulberry32(input.seed);
  const pick = zipfSampler(input.keys, input.zipf, random);
  // Map iteration order is insertion order: delete + set moves a key to the most recent end.
  const lru = new Map<number, number>(); // key -> expiresAt
  const rate = input.readsPerSecond + input.writesPerSecond;
  let now = 0;
  let hits = 0;
  let reads = 0;
  const warmup = input.seconds / 5;
  const touch = (key: number, expiresAt: number) => {
    lru.delete(key);
    lru.set(key, expiresAt);
    if (lru.size > input.capacity) lru.delete(lru.keys().next().value!);
  };
  while (now < input.seconds) {
    now += -Math.log(1 - random()) / rate;
    const key = pick();
    const isRead = random() * rate < input.readsPerSecond;
    const expiresAt = lru.get(key);
    const present = expiresAt !== undefined && expiresAt > now;
    if (isRead) {
      if (now > warmup) {
        reads++;
        if (present) hits++;
      }
      if (present) touch(key, expiresAt);
      else touch(key, now + input.ttlS);
    } else {
      touch(key, now + input.ttlS);
    }
  }
  return hits / reads;
}
