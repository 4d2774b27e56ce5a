/**
 * The capacity model behind `cachevault plan`: given a workload and the tier sizes, it predicts
 * the hit ratio of each tier, the DynamoDB units (in total and on the hottest key), the KMS calls
 * and the monthly cost, beside "DynamoDB alone" and a DAX cluster on the same workload.
 *
 * How it predicts (docs/performance.md has the derivation and its validation):
 * - Keys are drawn from a Zipf(s) law over `keys` keys; every instance sees the same law, reads
 *   and writes alike (the independent-reference model).
 * - Each local tier (memory, file) holds a copy from the moment a read misses it or the instance
 *   writes the key, until the local TTL cap passes with no new write, or LRU evicts it. The LRU
 *   part uses Che's approximation: a copy is evicted once it goes unaccessed for the cache's
 *   characteristic time t_C, found so that the expected number of resident keys equals the
 *   capacity. For one key with read rate r and write rate w (accesses a = r + w), a copy stays
 *   for D = min((e^{wT} - 1) / w, (e^{a t_C} - 1) / a) on average and is then absent for 1/a on
 *   average (until the next access re-inserts it); by PASTA a read finds it with probability
 *   D / (D + 1/a).
 * - The table holds a key from a write until the entry's TTL passes with no newer write; a read
 *   that misses every tier is a table read, and a table miss makes the loader write the value.
 * - A DAX cluster is one shared item cache (item TTL 5 minutes, LRU) in front of the same table.
 *
 * Nothing here is measured: the figures are as good as the assumptions above, which is why
 * `npm run bench -- capacity` runs the same workload on DynamoDB Local and prints both.
 */
import { PRICES, SECONDS_PER_MONTH } from './prices';

/** One value size of the workload's mix, with its share of operations. */
export interface ValueSize {
  readonly bytes: number;
  readonly weight: number;
}

export interface Workload {
  /** Application instances (processes, containers or Lambda environments), each with its own local tiers. */
  readonly instances: number;
  /** Gets per second per instance. */
  readonly getsPerSecond: number;
  /** Writes per second per instance (sets; deletes are not modelled). */
  readonly writesPerSecond: number;
  /** Distinct keys. */
  readonly keys: number;
  /** Zipf exponent of key popularity (1.1 is a common web-cache skew; 0 is uniform). */
  readonly zipf: number;
  /** Value sizes as stored by the app, before encryption and compression. */
  readonly valueSizes: readonly ValueSize[];
  /** Memory tier capacity per instance: entries, and bytes. */
  readonly memoryEntries: number;
  readonly memoryBytes: number;
  /** File tier capacity per instance (0 when the deployment has no file tier). */
  readonly fileEntries: number;
  readonly fileBytes: number;
  /** How long a local copy lives before it is re-read from DynamoDB (hybrid.localTtlCapMs). */
  readonly localTtlMs: number;
  /** The entries' own TTL (defaultTtlMs). */
  readonly entryTtlMs: number;
  /** Strongly consistent table reads cost twice as much. */
  readonly consistentRead: boolean;
  /** How long a plaintext data key is cached (keys.kms.cacheMaxAgeMs) and how many versions are live. */
  readonly kmsCacheMaxAgeMs: number;
  readonly keyVersions: number;
}

export const DEFAULT_WORKLOAD: Workload = {
  instances: 100,
  getsPerSecond: 1_000,
  writesPerSecond: 10,
  keys: 1_000_000,
  zipf: 1.1,
  valueSizes: [{ bytes: 1_024, weight: 1 }],
  memoryEntries: 10_000,
  memoryBytes: 64 * 1024 * 1024,
  fileEntries: 1_000_000,
  fileBytes: 1024 * 1024 * 1024,
  localTtlMs: 60_000,
  entryTtlMs: 3_600_000,
  consistentRead: false,
  kmsCacheMaxAgeMs: 300_000,
  keyVersions: 1,
};

/** Bytes an entry adds to its value in a table item: envelope (39 B), key hash, attributes. */
export const ITEM_OVERHEAD_BYTES = 150;
/** Largest item body before the DynamoDB backend splits an entry into chunks (dynamodb.chunkBytes). */
export const CHUNK_BYTES = 350 * 1024;
/** DynamoDB's documented per-partition limits. */
export const PARTITION_LIMITS = { rcu: 3_000, wcu: 1_000, bytes: 10 * 1024 ** 3 } as const;
/** DAX's default item-cache TTL. */
export const DAX_ITEM_TTL_MS = 300_000;

export interface TierRatios {
  /** Share of gets answered by each tier, and by none (the loader ran). Sums to 1. */
  readonly memory: number;
  readonly file: number;
  /** The DAX item cache (the DAX scenario only). */
  readonly dax: number;
  readonly dynamodb: number;
  readonly miss: number;
}

export interface UnitRates {
  /** Table reads and writes per second, and the units they consume. */
  readonly readsPerSecond: number;
  readonly writesPerSecond: number;
  readonly rcuPerSecond: number;
  readonly wcuPerSecond: number;
}

export interface HotPartition {
  /** Units per second on the hottest key (one key lives on one partition, and cannot be split). */
  readonly hottestKeyRcu: number;
  readonly hottestKeyWcu: number;
  /** Estimated partitions, and the load on the hottest one (hottest key plus an even share of the rest). */
  readonly partitions: number;
  readonly hottestPartitionRcu: number;
  readonly hottestPartitionWcu: number;
  /** Fractions of the per-partition limits. */
  readonly rcuShareOfLimit: number;
  readonly wcuShareOfLimit: number;
}

export interface MonthlyCost {
  readonly dynamodbRequests: number;
  readonly dynamodbStorage: number;
  readonly kms: number;
  readonly dax: number;
  readonly total: number;
  /** Dollars per million gets the application made. */
  readonly perMillionGets: number;
}

export interface Scenario {
  readonly name: string;
  readonly ratios: TierRatios;
  readonly units: UnitRates;
  readonly hot: HotPartition;
  readonly kmsCallsPerSecond: number;
  readonly cost: MonthlyCost;
}

export interface CapacityPlan {
  readonly workload: Workload;
  readonly prices: typeof PRICES;
  /** cachevault's tiers, DynamoDB alone, and DAX in front of DynamoDB. */
  readonly scenarios: readonly [Scenario, Scenario, Scenario];
  /** Risks worth a human's attention (hot keys, partitions over their limits). */
  readonly risks: readonly string[];
}

/** A group of keys of (nearly) equal popularity: `count` keys, each drawn with probability `p`. */
interface KeyGroup {
  readonly count: number;
  readonly p: number;
}

/** Keys ranked individually before they are grouped; the head of a Zipf law is where the hits are. */
const EXACT_HEAD = 2_000;
/** Growth of group widths past the head (2%): the popularity inside one group varies by at most ~2%. */
const GROUP_GROWTH = 1.02;

/** The Zipf(s) law over n keys as groups of near-equal popularity (exact probabilities summed). */
export function zipfGroups(n: number, s: number): KeyGroup[] {
  const mass = (a: number, b: number): number => {
    // Sum of i^-s for i in [a, b]: exact for short runs, else the midpoint integral (error < 1e-6 relative).
    if (b - a < 1_000) {
      let sum = 0;
      for (let i = a; i <= b; i++) sum += i ** -s;
      return sum;
    }
    const lo = a - 0.5;
    const hi = b + 0.5;
    return Math.abs(s - 1) < 1e-9 ? Math.log(hi / lo) : (hi ** (1 - s) - lo ** (1 - s)) / (1 - s);
  };
  const raw: { count: number; weight: number }[] = [];
  const head = Math.min(n, EXACT_HEAD);
  for (let i = 1; i <= head; i++) raw.push({ count: 1, weight: i ** -s });
  let start = head + 1;
  while (start <= n) {
    const end = Math.min(n, Math.max(start, Math.floor(start * GROUP_GROWTH)));
    raw.push({ count: end - start + 1, weight: mass(start, end) });
    start = end + 1;
  }
  const total = raw.reduce((sum, g) => sum + g.weight, 0);
  return raw.map((g) => ({ count: g.count, p: g.weight / g.count / total }));
}

/**
 * Mean time a copy stays once inserted: it ends when `ttl` passes with no write (a write renews
 * it), or when it goes unaccessed for `tC` (LRU eviction); the shorter of the two means.
 */
function residence(readRate: number, writeRate: number, ttlS: number, tCS: number): number {
  const access = readRate + writeRate;
  const byTtl = writeRate > 0 ? Math.expm1(Math.min(writeRate * ttlS, 700)) / writeRate : ttlS;
  const byLru = Number.isFinite(tCS) ? Math.expm1(Math.min(access * tCS, 700)) / access : Infinity;
  return Math.min(byTtl, byLru);
}

/** The probability that a read finds the copy present (PASTA: the fraction of time it is). */
function presence(readRate: number, writeRate: number, ttlS: number, tCS: number): number {
  const access = readRate + writeRate;
  if (access <= 0) return 0;
  const d = residence(readRate, writeRate, ttlS, tCS);
  if (!Number.isFinite(d)) return 1;
  return d / (d + 1 / access);
}

/**
 * Per-group presence for a cache of `capacity` keys fed by the given per-key rates. Expired copies
 * keep their LRU slot until evicted (lru-cache and the file tier expire lazily), so occupancy is
 * Che's: a key holds a slot while it was accessed within t_C, with probability 1 - e^{-a t_C}.
 */
function cachePresence(groups: readonly KeyGroup[], reads: readonly number[], writes: readonly number[], ttlS: number, capacity: number): number[] {
  const keys = groups.reduce((sum, g) => sum + g.count, 0);
  if (keys <= capacity) return groups.map((_, i) => presence(reads[i]!, writes[i]!, ttlS, Infinity));
  if (capacity <= 0) return groups.map(() => 0);
  const occupancy = (tC: number) => groups.reduce((sum, g, i) => sum - g.count * Math.expm1(-(reads[i]! + writes[i]!) * tC), 0);
  // Occupancy grows with t_C: bisect on its logarithm.
  let lo = Math.log(1e-9);
  let hi = Math.log(1e12);
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (occupancy(Math.exp(mid)) > capacity) hi = mid;
    else lo = mid;
  }
  const tC = Math.exp(lo);
  return groups.map((_, i) => presence(reads[i]!, writes[i]!, ttlS, tC));
}

interface SizeCosts {
  readonly meanItemBytes: number;
  readonly rcuPerRead: number;
  readonly wcuPerWrite: number;
}

function sizeCosts(sizes: readonly ValueSize[], consistentRead: boolean): SizeCosts {
  const totalWeight = sizes.reduce((sum, v) => sum + v.weight, 0);
  let meanItemBytes = 0;
  let rcuPerRead = 0;
  let wcuPerWrite = 0;
  for (const v of sizes) {
    const share = v.weight / totalWeight;
    const item = v.bytes + ITEM_OVERHEAD_BYTES;
    const chunks = item > CHUNK_BYTES ? Math.ceil(item / CHUNK_BYTES) : 0;
    // A chunked entry is a head item plus chunk items; each item is rounded up on its own.
    const items = chunks > 0 ? [ITEM_OVERHEAD_BYTES, ...Array.from({ length: chunks }, (_, i) => Math.min(CHUNK_BYTES, item - i * CHUNK_BYTES))] : [item];
    meanItemBytes += share * item;
    rcuPerRead += share * items.reduce((sum, b) => sum + Math.ceil(b / 4096) * (consistentRead ? 1 : 0.5), 0);
    wcuPerWrite += share * items.reduce((sum, b) => sum + Math.ceil(b / 1024), 0);
  }
  return { meanItemBytes, rcuPerRead, wcuPerWrite };
}

function validate(w: Workload): void {
  const positive: (keyof Workload)[] = ['instances', 'keys', 'localTtlMs', 'entryTtlMs', 'kmsCacheMaxAgeMs', 'keyVersions'];
  for (const k of positive) {
    if (!(typeof w[k] === 'number' && Number.isFinite(w[k]) && (w[k] as number) > 0)) throw new RangeError(`capacity model: ${k} must be a positive number (got ${String(w[k])})`);
  }
  const nonNegative: (keyof Workload)[] = ['getsPerSecond', 'writesPerSecond', 'zipf', 'memoryEntries', 'memoryBytes', 'fileEntries', 'fileBytes'];
  for (const k of nonNegative) {
    if (!(typeof w[k] === 'number' && Number.isFinite(w[k]) && (w[k] as number) >= 0)) throw new RangeError(`capacity model: ${k} must be zero or more (got ${String(w[k])})`);
  }
  if (w.valueSizes.length === 0 || w.valueSizes.some((v) => !(v.bytes > 0 && v.weight > 0))) {
    throw new RangeError('capacity model: valueSizes needs at least one { bytes > 0, weight > 0 }');
  }
}

interface TableLoad {
  readonly tableReads: number[];
  readonly tableWrites: number[];
  readonly tableHit: number[];
}

/** What reaches the table: reads that missed every tier in front, and the writes that follow. */
function tableLoad(w: Workload, groups: readonly KeyGroup[], frontPresence: readonly number[]): TableLoad {
  const entryTtlS = w.entryTtlMs / 1000;
  const tableReads = groups.map((g, i) => w.instances * w.getsPerSecond * g.p * (1 - frontPresence[i]!));
  const explicitWrites = groups.map((g) => w.instances * w.writesPerSecond * g.p);
  const tableHit = groups.map((_, i) => presence(tableReads[i]!, explicitWrites[i]!, entryTtlS, Infinity));
  // A table miss makes the loader compute the value and write it.
  const tableWrites = groups.map((_, i) => explicitWrites[i]! + tableReads[i]! * (1 - tableHit[i]!));
  return { tableReads, tableWrites, tableHit };
}

/** Per-group presence of what stands in front of the table: the local tiers, or DAX. */
interface Front {
  readonly memory: readonly number[];
  readonly file: readonly number[];
  readonly dax: readonly number[];
}

function scenario(name: string, w: Workload, groups: readonly KeyGroup[], costs: SizeCosts, front: Front, daxMonthly: number): Scenario {
  // Whatever stands in front is nested: memory within file; DAX alone.
  const any = groups.map((_, i) => Math.max(front.file[i]!, front.dax[i]!));
  const { tableReads, tableWrites, tableHit } = tableLoad(w, groups, any);
  const share = (f: (i: number) => number) => groups.reduce((sum, g, i) => sum + g.count * g.p * f(i), 0);
  const ratios: TierRatios = {
    memory: share((i) => front.memory[i]!),
    file: share((i) => front.file[i]! - front.memory[i]!),
    dax: share((i) => front.dax[i]!),
    dynamodb: share((i) => (1 - any[i]!) * tableHit[i]!),
    miss: share((i) => (1 - any[i]!) * (1 - tableHit[i]!)),
  };
  const sum = (xs: readonly number[]) => xs.reduce((acc, x, i) => acc + x * groups[i]!.count, 0);
  const readsPerSecond = sum(tableReads);
  const writesPerSecond = sum(tableWrites);
  const units: UnitRates = { readsPerSecond, writesPerSecond, rcuPerSecond: readsPerSecond * costs.rcuPerRead, wcuPerSecond: writesPerSecond * costs.wcuPerWrite };
  // groups[0] is the most popular key (rank 1).
  const hottestKeyRcu = tableReads[0]! * costs.rcuPerRead;
  const hottestKeyWcu = tableWrites[0]! * costs.wcuPerWrite;
  const storageBytes = w.keys * costs.meanItemBytes;
  const partitions = Math.max(1, Math.ceil(units.rcuPerSecond / PARTITION_LIMITS.rcu), Math.ceil(units.wcuPerSecond / PARTITION_LIMITS.wcu), Math.ceil(storageBytes / PARTITION_LIMITS.bytes));
  const hottestPartitionRcu = hottestKeyRcu + (units.rcuPerSecond - hottestKeyRcu) / partitions;
  const hottestPartitionWcu = hottestKeyWcu + (units.wcuPerSecond - hottestKeyWcu) / partitions;
  const hot: HotPartition = {
    hottestKeyRcu,
    hottestKeyWcu,
    partitions,
    hottestPartitionRcu,
    hottestPartitionWcu,
    rcuShareOfLimit: hottestPartitionRcu / PARTITION_LIMITS.rcu,
    wcuShareOfLimit: hottestPartitionWcu / PARTITION_LIMITS.wcu,
  };
  // Each instance unwraps each live key version once per cache lifetime of a plaintext data key.
  const kmsCallsPerSecond = (w.instances * w.keyVersions) / (w.kmsCacheMaxAgeMs / 1000);
  const dynamodbRequests = (SECONDS_PER_MONTH * (units.rcuPerSecond * PRICES.dynamodbPerMillionReadRequestUnits + units.wcuPerSecond * PRICES.dynamodbPerMillionWriteRequestUnits)) / 1e6;
  const dynamodbStorage = (storageBytes / 1024 ** 3) * PRICES.dynamodbStoragePerGbMonth;
  // The storage key and the data-key key (DataStack), plus requests.
  const kms = 2 * PRICES.kmsPerKeyMonth + ((kmsCallsPerSecond * SECONDS_PER_MONTH) / 10_000) * PRICES.kmsPerTenThousandRequests;
  const total = dynamodbRequests + dynamodbStorage + kms + daxMonthly;
  const gets = w.instances * w.getsPerSecond * SECONDS_PER_MONTH;
  const cost: MonthlyCost = { dynamodbRequests, dynamodbStorage, kms, dax: daxMonthly, total, perMillionGets: gets > 0 ? total / (gets / 1e6) : 0 };
  return { name, ratios, units, hot, kmsCallsPerSecond, cost };
}

/** Predicts the workload's tier hit ratios, DynamoDB units, KMS calls and cost (see the header). */
export function planCapacity(workload: Workload): CapacityPlan {
  validate(workload);
  const w = workload;
  const groups = zipfGroups(Math.round(w.keys), w.zipf);
  const costs = sizeCosts(w.valueSizes, w.consistentRead);
  const meanValueBytes = costs.meanItemBytes - ITEM_OVERHEAD_BYTES;
  const reads = groups.map((g) => w.getsPerSecond * g.p);
  const writes = groups.map((g) => w.writesPerSecond * g.p);
  const localTtlS = w.localTtlMs / 1000;
  const ttlS = Math.min(localTtlS, w.entryTtlMs / 1000);
  const memoryCapacity = Math.min(w.memoryEntries, Math.floor(w.memoryBytes / meanValueBytes));
  const fileCapacity = Math.min(w.fileEntries, Math.floor(w.fileBytes / meanValueBytes));
  const memory = cachePresence(groups, reads, writes, ttlS, memoryCapacity);
  // The file tier sees the same accesses; a copy in memory is also on file (write-through, promotion).
  const fileOwn = cachePresence(groups, reads, writes, ttlS, fileCapacity);
  const file = fileOwn.map((f, i) => Math.max(f, memory[i]!));
  const none = groups.map(() => 0);
  const tiered = scenario('cachevault (memory + file + DynamoDB)', w, groups, costs, { memory, file, dax: none }, 0);
  const alone = scenario('DynamoDB alone', w, groups, costs, { memory: none, file: none, dax: none }, 0);
  // DAX: one item cache shared by every instance, in front of the same table.
  const daxCapacity = Math.floor(PRICES.daxItemCacheBytes / costs.meanItemBytes);
  const dax = cachePresence(
    groups,
    reads.map((r) => r * w.instances),
    writes.map((x) => x * w.instances),
    Math.min(DAX_ITEM_TTL_MS, w.entryTtlMs) / 1000,
    daxCapacity,
  );
  const daxMonthly = (PRICES.daxNodeHour * PRICES.daxNodes * SECONDS_PER_MONTH) / 3600;
  const daxScenario = scenario(`DAX (${PRICES.daxNodes} x ${PRICES.daxNodeType}) + DynamoDB`, w, groups, costs, { memory: none, file: none, dax }, daxMonthly);
  const risks: string[] = [];
  for (const s of [tiered, alone, daxScenario]) {
    if (s.hot.hottestKeyWcu > PARTITION_LIMITS.wcu * 0.5) {
      risks.push(`${s.name}: the most popular key takes ${s.hot.hottestKeyWcu.toFixed(0)} WCU/s of one partition's ${PARTITION_LIMITS.wcu}; writes to one key cannot be spread (hot key): batch or coalesce its writes, or shard the key.`);
    }
    if (s.hot.hottestKeyRcu > PARTITION_LIMITS.rcu * 0.5) {
      risks.push(`${s.name}: the most popular key takes ${s.hot.hottestKeyRcu.toFixed(0)} RCU/s of one partition's ${PARTITION_LIMITS.rcu} (hot key).`);
    }
    if (s.hot.rcuShareOfLimit > 1 || s.hot.wcuShareOfLimit > 1) risks.push(`${s.name}: the hottest partition is over its limit (throttling expected).`);
  }
  return { workload: w, prices: PRICES, scenarios: [tiered, alone, daxScenario], risks };
}
