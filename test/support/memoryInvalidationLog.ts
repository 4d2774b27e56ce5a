import type { InvalidationBatch, InvalidationLogStore, InvalidationRecord } from '../../client/backends/hybrid/invalidationLog';

/** An invalidation log in memory, shared by the instances of a test; `down` makes it fail like an outage. */
export class MemoryLog implements InvalidationLogStore {
  readonly records: InvalidationRecord[][];
  down = false;
  /** Only writes fail (a throttled or denied PutItem). */
  appendDown = false;
  appends = 0;
  private seq = 0;
  constructor(readonly shards: number) {
    this.records = Array.from({ length: shards }, () => []);
  }
  async append(shard: number, batch: InvalidationBatch) {
    if (this.down || this.appendDown) throw new Error('connect ECONNREFUSED');
    this.appends += 1;
    this.records[shard]!.push({ ...batch, id: `${String(batch.at).padStart(13, '0')}#${batch.instanceId}#${this.seq++}` });
    return { readUnits: 0, writeUnits: 1 };
  }
  async readSince(shard: number, afterMs: number) {
    if (this.down) throw new Error('connect ECONNREFUSED');
    return { records: this.records[shard]!.filter((r) => r.at >= afterMs), readUnits: 1, writeUnits: 0 };
  }
  close() {}
}

