/**
 * FileBackend get/set/miss beside the local stores an app would otherwise use: keyv with
 * @keyv/sqlite in WAL mode, cacache, and one file per entry with fs.promises (writeFile to a temp
 * file + rename, readFile), all through their async APIs, in one run. Every store sets, then
 * every store gets, then every store misses, each phase in rounds rotating through the stores, so
 * drift on a shared VM hits each store alike; targets are ratios measured in this run.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../client/backends/fileBackend';
import { measure, ratio, type BenchContext, type BenchSuite, type CaseResult, type SuiteResult } from '../harness';

interface Store {
  readonly name: string;
  set(key: string, value: Buffer): Promise<unknown>;
  /** Resolves the value's length, or -1 on a miss (checked, so no store can cheat by returning nothing). */
  get(key: string): Promise<number>;
  close(): Promise<void>;
}

const SIZES = [
  { label: '1KB', bytes: 1024 },
  { label: '100KB', bytes: 100 * 1024 },
] as const;

async function fileBackendStore(dir: string): Promise<Store> {
  const backend = new FileBackend({ dir });
  return {
    name: 'file',
    set: (key, value) => backend.set({ namespace: 'bench', key, value, expiresAt: null, keyId: 'none', createdAt: Date.now() }),
    get: async (key) => (await backend.get('bench', key))?.value.byteLength ?? -1,
    close: () => backend.close(),
  };
}

async function keyvSqliteStore(dir: string): Promise<Store> {
  const { default: Keyv } = await import('keyv');
  const { default: KeyvSqlite } = await import('@keyv/sqlite');
  const sqlite = new KeyvSqlite({ uri: `sqlite://${join(dir, 'keyv.sqlite')}` });
  // The adapter has one connection, so pragmas set through it hold for every later query.
  await sqlite.query('PRAGMA journal_mode=WAL');
  await sqlite.query('PRAGMA synchronous=NORMAL');
  const keyv = new Keyv<string>({ store: sqlite });
  // keyv serializes to JSON; a Buffer would become an array of numbers, so give it the string
  // form an app would store (base64 of the same bytes, truncated to the same length).
  const strings = new Map<Buffer, string>();
  return {
    name: 'keyv-sqlite-wal',
    set: (key, value) => {
      let s = strings.get(value);
      if (s === undefined) {
        s = value.toString('base64').slice(0, value.byteLength);
        strings.set(value, s);
      }
      return keyv.set(key, s);
    },
    get: async (key) => (await keyv.get(key))?.length ?? -1,
    close: () => keyv.disconnect(),
  };
}

/** The part of cacache's API the bench uses; cacache ships no type declarations. */
interface Cacache {
  put(cache: string, key: string, data: Buffer): Promise<unknown>;
  get(cache: string, key: string): Promise<{ data: Buffer }>;
}

async function cacacheStore(dir: string): Promise<Store> {
  // A non-literal specifier keeps tsc from looking for declarations cacache does not have.
  const specifier = 'cacache';
  const loaded = (await import(specifier)) as Cacache & { default?: Cacache };
  const cacache = loaded.default ?? loaded;
  return {
    name: 'cacache',
    set: (key, value) => cacache.put(dir, key, value),
    get: (key) =>
      cacache.get(dir, key).then(
        (r) => r.data.byteLength,
        () => -1,
      ),
    close: async () => {},
  };
}

async function fsStore(dir: string): Promise<Store> {
  let seq = 0;
  const pathOf = (key: string) => join(dir, createHash('sha256').update(key).digest('hex'));
  return {
    name: 'fs-rename',
    set: async (key, value) => {
      const path = pathOf(key);
      const temp = `${path}.${process.pid}.${seq++}.tmp`;
      await writeFile(temp, value, { flag: 'wx' });
      await rename(temp, path);
    },
    get: (key) =>
      readFile(pathOf(key)).then(
        (b) => b.byteLength,
        () => -1,
      ),
    close: async () => {},
  };
}

const FACTORIES = [fileBackendStore, keyvSqliteStore, cacacheStore, fsStore];

async function run(ctx: BenchContext): Promise<SuiteResult> {
  const entries = ctx.quick ? 500 : 5_000;
  const rounds = ctx.quick ? 2 : 5;
  const root = mkdtempSync(join(tmpdir(), 'cachevault-bench-file-'));
  const cases: CaseResult[] = [];
  try {
    for (const size of SIZES) {
      const values = Array.from({ length: 16 }, () => randomBytes(size.bytes));
      const stores: Store[] = [];
      for (const factory of FACTORIES) {
        const dir = join(root, `${factory.name}-${size.label}`);
        mkdirSync(dir, { recursive: true });
        stores.push(await factory(dir));
      }
      // Each phase is cut into rounds that rotate through the stores, and each store's rounds are
      // summed: load on a shared VM then drifts over every store alike instead of over one.
      const chunk = Math.ceil(entries / rounds);
      const phase = async (label: string, op: (store: Store, i: number) => Promise<void>) => {
        const totals = new Map<Store, { ops: number; seconds: number; samples: number[]; latency?: CaseResult['latency'] }>(stores.map((st) => [st, { ops: 0, seconds: 0, samples: [] }]));
        for (let r = 0; r < rounds; r++) {
          for (const store of stores) {
            ctx.progress(`file: ${store.name} ${size.label} ${label} round ${r + 1}/${rounds}`);
            const c = await measure(label, (i) => op(store, r * chunk + i), { ops: chunk, warmup: 0, latencyCalls: r === 0 ? undefined : 0 });
            const t = totals.get(store)!;
            t.ops += c.ops;
            t.seconds += c.seconds;
            t.samples.push(...(c.samples ?? [c.opsPerSec]));
            t.latency ??= c.latency;
          }
        }
        for (const [store, t] of totals) cases.push({ name: `${store.name} ${size.label} ${label}`, ops: t.ops, seconds: t.seconds, opsPerSec: t.ops / t.seconds, samples: t.samples, latency: t.latency });
      };
      // Warm each store's code paths and files on keys outside the measured range.
      for (const store of stores) for (let i = 0; i < 50; i++) await store.set(`warm-${i}`, values[0]!).then(() => store.get(`warm-${i}`));
      await phase('set', (store, i) => store.set(`key-${i}`, values[i % values.length]!).then(() => undefined));
      await phase('get', async (store, i) => {
        if ((await store.get(`key-${i}`)) !== size.bytes) throw new Error(`${store.name}: key-${i} did not read back`);
      });
      await phase('miss', async (store, i) => {
        if ((await store.get(`absent-${i}`)) !== -1) throw new Error(`${store.name}: absent-${i} was found`);
      });
      for (const store of stores) await store.close();
      rmSync(join(root), { recursive: true, force: true });
      mkdirSync(root, { recursive: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const ratios = [
    ratio(cases, 'file 1KB set', 'keyv-sqlite-wal 1KB set', 1.5),
    ratio(cases, 'file 1KB set', 'cacache 1KB set', 8),
    ratio(cases, 'file 1KB get', 'keyv-sqlite-wal 1KB get', 3),
    ratio(cases, 'file 1KB get', 'cacache 1KB get', 20),
    ratio(cases, 'file 1KB miss', 'keyv-sqlite-wal 1KB miss'),
    ratio(cases, 'file 1KB set', 'fs-rename 1KB set'),
    ratio(cases, 'file 1KB get', 'fs-rename 1KB get'),
    ratio(cases, 'file 100KB set', 'keyv-sqlite-wal 100KB set'),
    ratio(cases, 'file 100KB get', 'keyv-sqlite-wal 100KB get'),
    ratio(cases, 'file 100KB set', 'cacache 100KB set'),
    ratio(cases, 'file 100KB get', 'cacache 100KB get'),
    ratio(cases, 'file 100KB set', 'fs-rename 100KB set'),
    ratio(cases, 'file 100KB get', 'fs-rename 100KB get'),
  ];
  return {
    suite: 'file',
    cases,
    ratios,
    notes: [
      `${entries} entries per store and size, each phase in ${rounds} rounds rotating through the stores; sequential awaited calls; durability 'normal' (WAL, synchronous=NORMAL) for file and keyv.`,
      '100 KB values are spilled to blob files by FileBackend (threshold 64 KiB); keyv stores them in SQLite rows.',
    ],
  };
}

const suite: BenchSuite = { name: 'file', description: 'FileBackend vs keyv+sqlite (WAL), cacache and fs writeFile+rename', run };
export default suite;
