import { DEFAULT_WORKLOAD, planCapacity, zipfGroups, type Workload } from '../../../client/plan/capacityModel';
import { simulateLruTtl } from './lruTtlSimulator';

/** One instance with only a memory tier of `capacity` entries, so the simulator is its ground truth. */
function memoryOnly(over: Partial<Workload> & { capacity: number }): Workload {
  const { capacity, ...rest } = over;
  return { ...DEFAULT_WORKLOAD, instances: 1, memoryEntries: capacity, memoryBytes: 1e15, fileEntries: 0, fileBytes: 0, ...rest };
}

describe('capacity model', () => {
  it('zipfGroups covers every key once and its probabilities sum to one', () => {
    for (const [n, s] of [[10, 1.1], [5_000, 0.8], [1_000_000, 1.1], [50_000_000, 1]] as const) {
      const groups = zipfGroups(n, s);
      expect(groups.reduce((sum, g) => sum + g.count, 0)).toBe(n);
      expect(groups.reduce((sum, g) => sum + g.count * g.p, 0)).toBeCloseTo(1, 9);
      for (let i = 1; i < groups.length; i++) expect(groups[i]!.p).toBeLessThanOrEqual(groups[i - 1]!.p * (1 + 1e-12));
    }
  });

  it.each([
    { keys: 20_000, zipf: 1.1, reads: 200, writes: 20, ttlS: 5, capacity: 500 },
    { keys: 20_000, zipf: 0.8, reads: 200, writes: 20, ttlS: 30, capacity: 2_000 },
    { keys: 5_000, zipf: 1.1, reads: 100, writes: 0, ttlS: 1_000, capacity: 300 },
    { keys: 5_000, zipf: 1.1, reads: 100, writes: 10, ttlS: 2, capacity: 100_000 },
  ])('predicts the hit ratio of an LRU tier with a TTL cap within 2 points of a simulation (%o)', (c) => {
    const simulated = simulateLruTtl({ keys: c.keys, zipf: c.zipf, readsPerSecond: c.reads, writesPerSecond: c.writes, ttlS: c.ttlS, capacity: c.capacity, seconds: 300, seed: 11 });
    const plan = planCapacity(memoryOnly({ keys: c.keys, zipf: c.zipf, getsPerSecond: c.reads, writesPerSecond: c.writes, localTtlMs: c.ttlS * 1000, capacity: c.capacity }));
    expect(Math.abs(plan.scenarios[0].ratios.memory - simulated)).toBeLessThan(0.02);
  });

  it('splits every get between the tiers and the loader, in every scenario', () => {
    const plan = planCapacity(DEFAULT_WORKLOAD);
    for (const s of plan.scenarios) {
      const r = s.ratios;
      expect(r.memory + r.file + r.dax + r.dynamodb + r.miss).toBeCloseTo(1, 9);
      for (const x of Object.values(r)) expect(x).toBeGreaterThanOrEqual(0);
    }
  });

  it('sends every get to the table when there are no local tiers, at half a unit per eventually consistent 1 KB read', () => {
    const w = DEFAULT_WORKLOAD;
    const alone = planCapacity(w).scenarios[1];
    expect(alone.units.readsPerSecond).toBeCloseTo(w.instances * w.getsPerSecond, 6);
    expect(alone.units.rcuPerSecond).toBeCloseTo(w.instances * w.getsPerSecond * 0.5, 6);
    const consistent = planCapacity({ ...w, consistentRead: true }).scenarios[1];
    expect(consistent.units.rcuPerSecond).toBeCloseTo(w.instances * w.getsPerSecond, 6);
  });

  it('absorbs more gets locally as the local TTL cap grows, and costs less', () => {
    const short = planCapacity({ ...DEFAULT_WORKLOAD, localTtlMs: 10_000 }).scenarios[0];
    const long = planCapacity({ ...DEFAULT_WORKLOAD, localTtlMs: 600_000 }).scenarios[0];
    expect(long.ratios.memory + long.ratios.file).toBeGreaterThan(short.ratios.memory + short.ratios.file);
    expect(long.cost.total).toBeLessThan(short.cost.total);
  });

  it('names the hot key when writes to the most popular key exceed half a partition', () => {
    const plan = planCapacity({ ...DEFAULT_WORKLOAD, writesPerSecond: 200, valueSizes: [{ bytes: 8_000, weight: 1 }] });
    expect(plan.scenarios[0].hot.hottestKeyWcu).toBeGreaterThan(500);
    expect(plan.risks.some((r) => r.includes('hot key'))).toBe(true);
  });

  it('counts chunked values as a head item plus chunks, each rounded up on its own', () => {
    const w = { ...DEFAULT_WORKLOAD, instances: 1, getsPerSecond: 1, writesPerSecond: 0, valueSizes: [{ bytes: 1_000_000, weight: 1 }] };
    const alone = planCapacity(w).scenarios[1];
    // 1,000,150 bytes in 350 KiB chunks: 3 chunks of 88 + 88 + 70 4-KiB blocks, plus the head's 1.
    expect(alone.units.rcuPerSecond).toBeCloseTo(0.5 * (1 + 88 + 88 + 70), 6);
  });

  it('refuses a workload with a field out of range, naming the field', () => {
    expect(() => planCapacity({ ...DEFAULT_WORKLOAD, instances: 0 })).toThrow(/instances/);
    expect(() => planCapacity({ ...DEFAULT_WORKLOAD, zipf: Number.NaN })).toThrow(/zipf/);
    expect(() => planCapacity({ ...DEFAULT_WORKLOAD, valueSizes: [] })).toThrow(/valueSizes/);
  });
});
