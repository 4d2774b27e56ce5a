import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import fc from 'fast-check';
import type { CacheVault } from '../../client/createCache';
import { CacheVaultError } from '../../client/errors';
import type { SqlValue } from './support/cacheDb';
import { makeTempCache, type TempCache } from './support/tempCache';
import { treeChanges } from './support/treeHash';

/**
 * The promise of docs/security.md for a writer of the cache directory, checked on arbitrary
 * edits rather than on the ones someone thought of: whatever they do to the rows of the file
 * tier (every column of `entries`, read from the database itself) and to its blob files (bit
 * flips, truncation, replacement, deletion, swaps, symlinks, a symlinked fan-out or temp
 * directory), a cache opened afterwards
 *  - returns for each key exactly the value written under it, or a miss counted in stats();
 *  - never throws to the caller, on reads, writes, deletes, prune() or repair();
 *  - starts, unless the directory structure itself was replaced (a symlinked fan-out or temp
 *    directory): then it may refuse to start, with a typed error and a hint, and nothing else;
 *  - changes no file outside its cache root (the manifest, the audit log and a sibling tree of
 *    victims are hashed before and after).
 */

const NS_OTHER = 'other';
/** What was written, by namespace and key; `undefined` marks keys never written (they must miss). */
const WRITTEN: ReadonlyArray<{ namespace: string; key: string; value: unknown; ttlMs?: number | null }> = [
  { namespace: 'default', key: 'small', value: 'a short string' },
  { namespace: 'default', key: 'object', value: { id: 7, tags: ['x', 'y'], nested: { ok: true } } },
  { namespace: 'default', key: 'big', value: randomBytes(1500).toString('base64') },
  { namespace: 'default', key: 'big-forever', value: randomBytes(900).toString('base64'), ttlMs: null },
  { namespace: 'default', key: 'forever', value: 42, ttlMs: null },
  { namespace: NS_OTHER, key: 'small', value: 'the other namespace' },
  { namespace: NS_OTHER, key: 'big', value: randomBytes(1200).toString('base64') },
];
const GHOSTS: ReadonlyArray<{ namespace: string; key: string }> = [
  { namespace: 'default', key: 'ghost' },
  { namespace: NS_OTHER, key: 'object' },
];

/** A value for a column: literal, copied from another row or column (swaps, replays), or a path into the temp tree. */
type ValueSpec =
  | { readonly kind: 'literal'; readonly value: SqlValue }
  | { readonly kind: 'copy'; readonly row: string; readonly column: string }
  | { readonly kind: 'path'; readonly index: number };

type BlobEdit =
  | { readonly kind: 'flip'; readonly offset: number; readonly bit: number }
  | { readonly kind: 'truncate'; readonly length: number }
  | { readonly kind: 'replace'; readonly bytes: Uint8Array }
  | { readonly kind: 'copyOther'; readonly from: number }
  | { readonly kind: 'delete' }
  | { readonly kind: 'directory' }
  | { readonly kind: 'symlinkVictim'; readonly victim: number }
  | { readonly kind: 'symlinkCopyOutside' }
  | { readonly kind: 'symlinkOther'; readonly from: number };

/** Rows are named `namespace/key` as the template wrote them, columns by name (read from the database). */
type Mutation =
  | { readonly kind: 'row'; readonly row: string; readonly column: string; readonly value: ValueSpec }
  | { readonly kind: 'blob'; readonly blob: number; readonly edit: BlobEdit }
  | { readonly kind: 'fanout'; readonly blob: number }
  | { readonly kind: 'tmpdir' };

/** No random string may climb out of the temp tree: we run as whoever runs the tests (root, in CI containers). */
const safeText = fc.string({ maxLength: 40 }).filter((s) => !s.includes('..') && !s.startsWith('/') && !s.includes('\0'));

const literal: fc.Arbitrary<SqlValue> = fc.oneof(
  fc.constant(null),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
  fc.constantFrom(0, -1, 1, 2 ** 32, 2 ** 53 - 1, -(2 ** 53), 1e300, -1e300, 0.5),
  fc.double({ noNaN: true }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  safeText,
  fc.constantFrom('k1', 'k2', 'k0', '', 'default', NS_OTHER, 'ghost', 'object', 'small', 'big'),
  fc.uint8Array({ maxLength: 96 }).map((b) => Buffer.from(b)),
);

const blobEdit: fc.Arbitrary<BlobEdit> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), offset: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), length: fc.nat({ max: 4096 }) }),
  fc.record({ kind: fc.constant('replace' as const), bytes: fc.uint8Array({ maxLength: 2048 }) }),
  fc.record({ kind: fc.constant('copyOther' as const), from: fc.nat() }),
  fc.constant({ kind: 'delete' as const }),
  fc.constant({ kind: 'directory' as const }),
  fc.record({ kind: fc.constant('symlinkVictim' as const), victim: fc.nat() }),
  fc.constant({ kind: 'symlinkCopyOutside' as const }),
  fc.record({ kind: fc.constant('symlinkOther' as const), from: fc.nat() }),
);

/** Mutations over the template's own rows and columns, so counterexamples name them. */
function mutationOf(rows: readonly string[], columns: readonly string[]): fc.Arbitrary<Mutation> {
  const row = fc.constantFrom(...rows);
  const column = fc.constantFrom(...columns);
  const valueSpec: fc.Arbitrary<ValueSpec> = fc.oneof(
    { weight: 4, arbitrary: literal.map((value) => ({ kind: 'literal' as const, value })) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('copy' as const), row, column }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('path' as const), index: fc.nat() }) },
  );
  return fc.oneof(
    { weight: 12, arbitrary: fc.record({ kind: fc.constant('row' as const), row, column, value: valueSpec }) },
    { weight: 8, arbitrary: fc.record({ kind: fc.constant('blob' as const), blob: fc.nat(), edit: blobEdit }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('fanout' as const), blob: fc.nat() }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'tmpdir' as const }) },
  );
}

/** What the cache does after the damage: which keys it overwrites and deletes before prune() and repair(). */
const followUp = fc.record({
  overwrite: fc.subarray([...WRITTEN.keys()]),
  remove: fc.subarray([...WRITTEN.keys()]),
});

describe('file tier tampering (property)', () => {
  let template: TempCache;
  let mutation: fc.Arbitrary<Mutation>;

  beforeAll(async () => {
    template = makeTempCache();
    const vault = await template.open();
    try {
      for (const w of WRITTEN) {
        await vault.cache.namespace(w.namespace).set(w.key, w.value, w.ttlMs === undefined ? {} : { ttlMs: w.ttlMs });
      }
      for (const w of WRITTEN) expect(await vault.cache.namespace(w.namespace).get(w.key)).toStrictEqual(w.value);
    } finally {
      await vault.close();
    }
    // The template must reach blobs for blob edits to mean anything.
    const db = template.db();
    try {
      expect(db.rows().filter((r) => r.blob !== null).length).toBeGreaterThanOrEqual(3);
      mutation = mutationOf(
        db.rows().map((r) => `${String(r.namespace)}/${String(r.key)}`),
        db.columns().map((c) => c.name),
      );
    } finally {
      db.close();
    }
  });

  afterAll(() => template?.remove());

  it('arbitrary edits of rows and blob files yield exact values or counted misses, never a throw, and change nothing outside the cache root', async () => {
    const numRuns = Number(process.env.CV_SECURITY_RUNS ?? 50);
    const seen = { opened: 0, hits: 0, misses: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 6 }), followUp, async (mutations, after) => {
        const cache = makeTempCache({ copyOf: template });
        try {
          // One clean open first: state kept per manifest path beside the cache (the revision
          // pin) is set up then, so what changes afterwards is down to the damage alone.
          await (await cache.open()).close();
          applyMutations(cache, mutations);
          const outsideBefore = cache.hashOutsideCache();
          const structural = mutations.some((m) => m.kind === 'fanout' || m.kind === 'tmpdir');
          const outcome = await exercise(cache, after, structural);
          if (outcome) {
            seen.opened += 1;
            seen.hits += outcome.hits;
            seen.misses += outcome.misses;
          }
          const changes = treeChanges(outsideBefore, cache.hashOutsideCache());
          expect(changes).toEqual([]);
        } finally {
          cache.remove();
        }
      }),
      { numRuns },
    );
    // Not vacuous: most damaged caches were opened and used, and the damage both spared and hit entries.
    expect(seen.opened).toBeGreaterThan(numRuns / 2);
    expect(seen.hits).toBeGreaterThan(0);
    expect(seen.misses).toBeGreaterThan(0);
    // Seconds alone here; minutes when `npm test` runs every project at once on two cores.
  }, 300_000);
});

/** Opens the damaged cache and uses it as an app and an operator would; asserts the promise at every step. */
async function exercise(
  cache: TempCache,
  after: { overwrite: number[]; remove: number[] },
  structural: boolean,
): Promise<{ hits: number; misses: number } | undefined> {
  let vault: CacheVault | undefined;
  try {
    try {
      vault = await cache.open();
    } catch (err) {
      // Refusing a directory whose structure was swapped for links is failing closed; refusing
      // because of edited rows or blob files is not (those must be misses).
      if (structural && err instanceof CacheVaultError && err.hint) return undefined;
      throw err;
    }
    const { cache: manager } = vault;

    let missed = 0;
    for (const w of WRITTEN) {
      const found = await manager.namespace(w.namespace).lookup(w.key);
      if (found.found) expect(found.value).toStrictEqual(w.value);
      else missed += 1;
    }
    const outcome = { hits: WRITTEN.length - missed, misses: missed };
    for (const g of GHOSTS) {
      const found = await manager.namespace(g.namespace).lookup(g.key);
      expect(found.found).toBe(false);
      missed += 1;
    }
    expect(manager.stats().misses).toBe(missed);
    // The batch and has() paths read the same rows through other code.
    for (const namespace of ['default', NS_OTHER]) {
      const written = WRITTEN.filter((w) => w.namespace === namespace);
      const many = await manager.namespace(namespace).getMany(written.map((w) => w.key));
      many.forEach((value, i) => {
        if (value !== undefined) expect(value).toStrictEqual(written[i]!.value);
      });
      for (const g of GHOSTS.filter((x) => x.namespace === namespace)) expect(await manager.namespace(namespace).has(g.key)).toBe(false);
    }

    const fresh = new Map<number, string>();
    for (const i of after.overwrite) {
      const w = WRITTEN[i]!;
      const value = `rewritten ${i} ${randomBytes(i % 2 === 0 ? 8 : 400).toString('hex')}`;
      await manager.namespace(w.namespace).set(w.key, value);
      fresh.set(i, value);
    }
    for (const i of after.remove) {
      const w = WRITTEN[i]!;
      await manager.namespace(w.namespace).delete(w.key);
      fresh.delete(i);
    }
    for (const [i, value] of fresh) {
      const w = WRITTEN[i]!;
      const found = await manager.namespace(w.namespace).lookup(w.key);
      // Damage to limits (sizes, charges) may make the cache evict: a miss is allowed, another value is not.
      if (found.found) expect(found.value).toBe(value);
    }
    const backend = cache.fileBackend(vault);
    await backend.prune();
    await backend.repair();
    for (const w of WRITTEN) {
      const found = await manager.namespace(w.namespace).lookup(w.key);
      if (!found.found) continue;
      const i = WRITTEN.indexOf(w);
      expect(found.value).toStrictEqual(fresh.has(i) ? fresh.get(i) : w.value);
    }
    return outcome;
  } finally {
    await vault?.close();
  }
}

/** Applies the edits to the closed cache, as a writer of its directory would. */
function applyMutations(cache: TempCache, mutations: readonly Mutation[]): void {
  const blobsDir = join(cache.cacheDir, 'v1', 'blobs');
  const tmpDir = join(cache.cacheDir, 'v1', 'tmp');
  // Paths an attacker would put in a path-ish column: files of the temp tree beside the cache
  // (each as the blob layout would join it: `<blobs>/<first two chars>/<name>`), absolute paths,
  // and names of real blobs with a twist. Every one resolves inside the temp tree.
  const pathCandidates = [
    relative(join(blobsDir, '..'), cache.manifestPath),
    relative(join(blobsDir, '..'), cache.auditPath),
    ...cache.victims.map((v) => relative(join(blobsDir, '..'), v)),
    ...cache.victims,
    cache.manifestPath,
    '../cache.db',
    '..',
    '.',
    '',
    'tmp',
  ];

  const db = cache.db();
  try {
    const columns = db.columns().map((c) => c.name);
    for (const m of mutations) {
      if (m.kind !== 'row') continue;
      const rows = db.rowsWithRowid();
      const row = rows.find((r) => `${String(r.namespace)}/${String(r.key)}` === m.row);
      if (!row || !columns.includes(m.column)) continue; // moved away or renamed by an earlier edit
      let value: SqlValue;
      if (m.value.kind === 'literal') value = m.value.value;
      else if (m.value.kind === 'path') {
        const blobNames = rows.map((r) => r.blob).filter((b): b is string => typeof b === 'string');
        const candidates = [...pathCandidates, ...blobNames.flatMap((b) => [`${b.slice(0, 2)}/${b}`, `./${b}`, b.toUpperCase(), `${b}\0x`])];
        value = candidates[m.value.index % candidates.length]!;
      } else {
        const source = m.value;
        const from = rows.find((r) => `${String(r.namespace)}/${String(r.key)}` === source.row) ?? row;
        value = from[source.column] ?? null;
      }
      db.update('entries', row.rowid_, m.column, value);
    }
  } finally {
    db.close();
  }
  // Every path we produce below must stay in the temp tree (we may run as root).
  const inTree = (p: string): string => {
    const abs = resolve(p);
    if (!abs.startsWith(cache.root + sep)) throw new Error(`test bug: ${abs} is outside the temp tree`);
    return abs;
  };

  for (const m of mutations) {
    if (m.kind === 'row') continue;
    const blobs = listBlobs(blobsDir);
    if (m.kind === 'tmpdir') {
      const target = join(cache.outsideDir, 'nested');
      rmSync(tmpDir, { recursive: true, force: true });
      symlinkSync(target, inTree(tmpDir));
      continue;
    }
    if (blobs.length === 0) continue;
    const blob = blobs[m.blob % blobs.length]!;
    if (m.kind === 'fanout') {
      // The blob's fan-out directory becomes a symlink to a directory outside the cache that
      // holds a copy of its files: reading through it, or unlinking through it, leaves the root.
      const fanout = join(blobsDir, blob.name.slice(0, 2));
      const outside = join(cache.outsideDir, `fanout-${blob.name.slice(0, 2)}`);
      if (existsSync(outside) || !lstatSync(fanout).isDirectory()) continue;
      renameSync(fanout, inTree(outside));
      symlinkSync(outside, fanout);
      continue;
    }
    const path = inTree(blob.path);
    const edit = m.edit;
    switch (edit.kind) {
      case 'flip': {
        if (!isFile(path)) break;
        const bytes = readFileSync(path);
        if (bytes.length === 0) break;
        const at = edit.offset % bytes.length;
        bytes[at] = bytes[at]! ^ (1 << edit.bit);
        writeFileSync(path, bytes);
        break;
      }
      case 'truncate':
        if (isFile(path)) truncateSync(path, Math.min(edit.length, readFileSync(path).length));
        break;
      case 'replace':
        rmSync(path, { recursive: true, force: true });
        writeFileSync(path, edit.bytes);
        break;
      case 'copyOther': {
        const other = blobs[edit.from % blobs.length]!;
        if (other.path !== blob.path && isFile(other.path) && isFile(path)) copyFileSync(other.path, path);
        break;
      }
      case 'delete':
        rmSync(path, { recursive: true, force: true });
        break;
      case 'directory':
        rmSync(path, { recursive: true, force: true });
        mkdirSync(path);
        break;
      case 'symlinkVictim':
        rmSync(path, { recursive: true, force: true });
        symlinkSync(cache.victims[edit.victim % cache.victims.length]!, path);
        break;
      case 'symlinkCopyOutside': {
        // The exact bytes, but in a file outside the cache: a link the cache must not follow.
        if (!isFile(path)) break;
        const copy = join(cache.outsideDir, `copy-${blob.name}`);
        copyFileSync(path, inTree(copy));
        rmSync(path);
        symlinkSync(copy, path);
        break;
      }
      case 'symlinkOther': {
        const other = blobs[edit.from % blobs.length]!;
        if (other.path === blob.path) break;
        rmSync(path, { recursive: true, force: true });
        symlinkSync(other.path, path);
        break;
      }
    }
  }
}

function listBlobs(blobsDir: string): { name: string; path: string }[] {
  const out: { name: string; path: string }[] = [];
  for (const sub of safeReaddir(blobsDir).sort()) {
    for (const name of safeReaddir(join(blobsDir, sub)).sort()) out.push({ name, path: join(blobsDir, sub, name) });
  }
  return out;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function isFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}
