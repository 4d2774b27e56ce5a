import { randomBytes } from 'node:crypto';
import { BackendClosedError, InvalidArgumentError } from '../../client/errors';
import type { CacheBackend } from '../../client/backends/cacheBackend';
import type { Clock, StoredEntry } from '../../client/types';

/** A clock tests move by hand, so expiry is tested without sleeping. */
export class ManualClock {
  constructor(public now = Date.now()) {}
  readonly read: Clock = () => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

export interface ContractContext {
  readonly clock: Clock;
}

export interface ContractOptions {
  /** Skip the 1 MB value case for backends with a smaller limit. */
  readonly largeValueBytes?: number;
}

/**
 * The behaviour every backend must share. A backend's test file adopts it in one call:
 * `runBackendContract('file', (ctx) => new FileBackend({ dir, clock: ctx.clock }))`.
 */
export function runBackendContract(
  name: string,
  factory: (ctx: ContractContext) => CacheBackend | Promise<CacheBackend>,
  options: ContractOptions = {},
): void {
  describe(`${name} backend contract`, () => {
    let clock: ManualClock;
    let backend: CacheBackend;
    let ns: string;

    const entry = (key: string, value: Uint8Array | string, over: Partial<StoredEntry> = {}): StoredEntry => ({
      namespace: ns,
      key,
      value: typeof value === 'string' ? Buffer.from(value) : value,
      expiresAt: clock.now + 60_000,
      keyId: 'k1',
      createdAt: clock.now,
      ...over,
    });

    beforeEach(async () => {
      clock = new ManualClock();
      backend = await factory({ clock: clock.read });
      // A fresh namespace per test keeps shared backends (DynamoDB) independent between tests.
      ns = `t${randomBytes(6).toString('hex')}`;
    });

    afterEach(async () => {
      await backend.close();
    });

    test('.get() of a key never written is undefined', async () => {
      expect(await backend.get(ns, 'missing')).toBeUndefined();
    });

    test('.set() then .get() returns the same bytes, expiry, key id and creation time', async () => {
      const value = randomBytes(1024);
      await backend.set(entry('a', value));
      const got = await backend.get(ns, 'a');
      expect(got).toBeDefined();
      expect(Buffer.from(got!.value).equals(value)).toBe(true);
      expect(got!.expiresAt).toBe(clock.now + 60_000);
      expect(got!.keyId).toBe('k1');
      expect(got!.createdAt).toBe(clock.now);
      expect(got!.namespace).toBe(ns);
      expect(got!.key).toBe('a');
    });

    test('.set() on an existing key replaces the value', async () => {
      await backend.set(entry('a', 'one'));
      await backend.set(entry('a', 'two', { keyId: 'k2' }));
      const got = await backend.get(ns, 'a');
      expect(Buffer.from(got!.value).toString()).toBe('two');
      expect(got!.keyId).toBe('k2');
    });

    test('an entry is a miss once its expiresAt has passed', async () => {
      await backend.set(entry('soon', 'x', { expiresAt: clock.now + 1_000 }));
      expect(await backend.has(ns, 'soon')).toBe(true);
      clock.advance(999);
      expect(await backend.get(ns, 'soon')).toBeDefined();
      clock.advance(1);
      expect(await backend.get(ns, 'soon')).toBeUndefined();
      expect(await backend.has(ns, 'soon')).toBe(false);
      expect(backend.stats().expired).toBeGreaterThanOrEqual(1);
    });

    test('an entry with expiresAt null never expires', async () => {
      await backend.set(entry('forever', 'x', { expiresAt: null }));
      clock.advance(10 * 365 * 24 * 3600 * 1000);
      expect((await backend.get(ns, 'forever'))?.expiresAt).toBeNull();
    });

    test('.delete() removes an entry and says whether one existed', async () => {
      await backend.set(entry('a', 'x'));
      expect(await backend.delete(ns, 'a')).toBe(true);
      expect(await backend.get(ns, 'a')).toBeUndefined();
      expect(await backend.delete(ns, 'a')).toBe(false);
    });

    test('namespaces keep the same key apart', async () => {
      const other = `${ns}-other`;
      await backend.set(entry('k', 'mine'));
      await backend.set({ ...entry('k', 'theirs'), namespace: other });
      expect(Buffer.from((await backend.get(ns, 'k'))!.value).toString()).toBe('mine');
      expect(Buffer.from((await backend.get(other, 'k'))!.value).toString()).toBe('theirs');
      await backend.clear(other);
    });

    test('.clear(namespace) empties that namespace only', async () => {
      const other = `${ns}-keep`;
      await backend.setMany([entry('a', '1'), entry('b', '2'), { ...entry('c', '3'), namespace: other }]);
      await backend.clear(ns);
      expect(await backend.get(ns, 'a')).toBeUndefined();
      expect(await backend.get(ns, 'b')).toBeUndefined();
      expect(await backend.get(other, 'c')).toBeDefined();
      await backend.set(entry('a', 'again'));
      expect(Buffer.from((await backend.get(ns, 'a'))!.value).toString()).toBe('again');
      await backend.clear(other);
    });

    test('.getMany() answers in the order asked, with undefined for misses', async () => {
      await backend.setMany([entry('a', '1'), entry('c', '3')]);
      const got = await backend.getMany(ns, ['c', 'b', 'a']);
      expect(got.map((e) => (e ? Buffer.from(e.value).toString() : undefined))).toEqual(['3', undefined, '1']);
    });

    test('.setMany() writes every entry and .deleteMany() counts what it removed', async () => {
      const many = Array.from({ length: 60 }, (_, i) => entry(`k${i}`, `v${i}`));
      const result = await backend.setMany(many);
      expect(result.written).toBe(60);
      const got = await backend.getMany(ns, many.map((e) => e.key));
      expect(got.every((e, i) => e && Buffer.from(e.value).toString() === `v${i}`)).toBe(true);
      expect(await backend.deleteMany(ns, ['k0', 'k1', 'nope'])).toBe(2);
      expect(await backend.has(ns, 'k0')).toBe(false);
      expect(await backend.has(ns, 'k2')).toBe(true);
    });

    test('.entries() walks every live entry exactly once, across pages, skipping expired ones', async () => {
      const many = Array.from({ length: 120 }, (_, i) => entry(`e${i}`, `v${i}`));
      await backend.setMany([...many, entry('dead', 'x', { expiresAt: clock.now + 10 })]);
      clock.advance(20);
      const seen: string[] = [];
      for await (const e of backend.entries({ namespace: ns, pageSize: 25 })) seen.push(e.key);
      expect(seen.sort()).toEqual(many.map((e) => e.key).sort());
    });

    test('.scan() pages resume from their cursor', async () => {
      await backend.setMany(Array.from({ length: 30 }, (_, i) => entry(`s${i}`, 'v')));
      const keys = new Set<string>();
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await backend.scan({ namespace: ns, pageSize: 7, cursor });
        for (const e of page.entries) {
          expect(keys.has(e.key)).toBe(false);
          keys.add(e.key);
        }
        cursor = page.cursor;
        pages += 1;
      } while (cursor !== undefined && pages < 100);
      expect(keys.size).toBe(30);
    });

    test('hostile keys are stored as data: path tricks, NUL, unicode, 10 KB keys', async () => {
      const keys = ['../../etc/passwd', '..\\..\\x', 'a\u0000b', 'ключ-🔑-鍵', ' ', '', 'x'.repeat(10 * 1024), '%2e%2e/', '#', 'v'];
      await backend.setMany(keys.map((k, i) => entry(k, `value-${i}`)));
      for (const [i, k] of keys.entries()) {
        const got = await backend.get(ns, k);
        expect(got && Buffer.from(got.value).toString()).toBe(`value-${i}`);
        expect(got!.key).toBe(k);
      }
    });

    test('binary values keep every byte, empty included', async () => {
      const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await backend.setMany([entry('bin', all), entry('empty', new Uint8Array(0))]);
      expect(Buffer.from((await backend.get(ns, 'bin'))!.value).equals(all)).toBe(true);
      expect((await backend.get(ns, 'empty'))!.value.byteLength).toBe(0);
    });

    test('a large value round-trips intact', async () => {
      const big = randomBytes(options.largeValueBytes ?? 1024 * 1024);
      await backend.set(entry('big', big));
      expect(Buffer.from((await backend.get(ns, 'big'))!.value).equals(big)).toBe(true);
    });

    test('keys must be strings and namespaces identifiers', async () => {
      await expect(backend.get(ns, 42 as unknown as string)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(backend.get('bad namespace/..', 'k')).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    test('.stats() counts hits, misses, sets and deletes', async () => {
      const before = backend.stats();
      await backend.set(entry('a', 'x'));
      await backend.get(ns, 'a');
      await backend.get(ns, 'zzz');
      await backend.delete(ns, 'a');
      const after = backend.stats();
      expect(after.sets - before.sets).toBe(1);
      expect(after.hits - before.hits).toBe(1);
      expect(after.misses - before.misses).toBe(1);
      expect(after.deletes - before.deletes).toBe(1);
      expect(after.backend).toBe(backend.name);
    });

    test('.healthCheck() reports a healthy backend with a canary round trip', async () => {
      const report = await backend.healthCheck();
      expect(report.healthy).toBe(true);
      expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['write', 'read', 'delete']));
    });

    test('a closed backend refuses work with a clear error', async () => {
      await backend.close();
      await expect(backend.get(ns, 'a')).rejects.toBeInstanceOf(BackendClosedError);
      await backend.close();
    });
  });
}
