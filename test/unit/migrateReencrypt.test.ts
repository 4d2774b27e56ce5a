import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CacheBackend } from '../../client/backends/cacheBackend';
import { FileBackend } from '../../client/backends/fileBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import type { EncryptionProvider } from '../../client/crypto/encryptionProvider';
import { NoEncryption } from '../../client/crypto/noEncryption';
import { StaticKeySource } from '../../client/keys/staticKeySource';
import { PlanMismatchError } from '../../client/migrate/errors';
import { reencryptInPlace } from '../../client/migrate/reencrypt';
import type { StoredEntry, WriteResult } from '../../client/types';
import { ManualClock } from '../contract/backendContract';
import { CountingBackend } from '../support/countingBackend';

const ns = 'app';

async function put(backend: CacheBackend, provider: EncryptionProvider, key: string, value: string, expiresAt: number | null, createdAt: number): Promise<void> {
  const sealed = await provider.seal(Buffer.from(value), { namespace: ns, key, expiresAt });
  await backend.set({ namespace: ns, key, expiresAt, value: sealed.bytes, keyId: sealed.keyId, createdAt });
}

describe('reencryptInPlace', () => {
  let dir: string;
  let clock: ManualClock;
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const beforeRotation = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: k1 }]) });
  const afterRotation = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: k1 }, { id: 'k2', material: k2 }], 'k2') });
  const plain = new NoEncryption();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cv-reencrypt-'));
    clock = new ManualClock(1_800_000_000_000);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('a rotation sweep rewrites entries under the old key version and reports key ids before and after', async () => {
    const backend = new MemoryBackend({ clock: clock.read });
    for (let i = 0; i < 70; i++) await put(backend, beforeRotation, `old${i}`, `v${i}`, clock.now + 60_000, clock.now);
    for (let i = 0; i < 30; i++) await put(backend, afterRotation, `new${i}`, `n${i}`, null, clock.now);
    await put(backend, beforeRotation, 'expired', 'x', clock.now + 10, clock.now);
    clock.advance(100);

    const report = await reencryptInPlace({
      backend,
      open: afterRotation,
      seal: afterRotation,
      shouldRewrite: (e) => e.keyId === 'k1',
      stateDir: dir,
      clock: clock.read,
      batchSize: 16,
      description: 'rotate k1 -> k2',
    });

    expect(report.counts).toMatchObject({ scanned: 100, rewritten: 70, unchanged: 30, skippedExpired: 1, failed: 0, skippedChanged: 0 });
    expect(report.counts.keyIdsBefore).toEqual({ k1: 70, k2: 30 });
    expect(report.counts.keyIdsAfter).toEqual({ k2: 100 });
    for await (const e of backend.entries()) {
      expect(e.keyId).toBe('k2');
      if (e.key.startsWith('old')) expect(Buffer.from(await afterRotation.open(e.value, e)).toString()).toBe(`v${e.key.slice(3)}`);
    }
    const rerun = await reencryptInPlace({ backend, open: afterRotation, seal: afterRotation, shouldRewrite: (e) => e.keyId === 'k1', stateDir: dir, clock: clock.read, description: 'rotate k1 -> k2' });
    expect(rerun.counts.rewritten).toBe(0);
  });

  test('enabling encryption rewrites unencrypted entries; disabling brings them back to none', async () => {
    const backend = new MemoryBackend({ clock: clock.read });
    for (let i = 0; i < 10; i++) await put(backend, plain, `p${i}`, `value${i}`, null, clock.now);

    // The sweep that enables encryption is the one reader of old plaintext.
    const reader = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: k1 }, { id: 'k2', material: k2 }], 'k2'), allowUnencryptedReads: true });
    const enabled = await reencryptInPlace({ backend, open: reader, seal: afterRotation, shouldRewrite: (e) => e.keyId === 'none', stateDir: join(dir, 'on'), clock: clock.read });
    expect(enabled.counts.keyIdsAfter).toEqual({ k2: 10 });
    const disabled = await reencryptInPlace({ backend, open: afterRotation, seal: plain, shouldRewrite: (e) => e.keyId !== 'none', stateDir: join(dir, 'off'), clock: clock.read });
    expect(disabled.counts.keyIdsAfter).toEqual({ none: 10 });
    expect(Buffer.from(await plain.open((await backend.get(ns, 'p3'))!.value, { namespace: ns, key: 'p3', expiresAt: null })).toString()).toBe('value3');
  });

  test('an entry an app rewrote between the read and the write is left as the app wrote it', async () => {
    const backend = new MemoryBackend({ clock: clock.read });
    for (let i = 0; i < 5; i++) await put(backend, beforeRotation, `e${i}`, `v${i}`, null, clock.now);
    const getMany = backend.getMany.bind(backend);
    // The app writes e2 (still under k1, as an old client would) and deletes e3 just before the sweep re-reads the batch.
    jest.spyOn(backend, 'getMany').mockImplementationOnce(async (namespace, keys) => {
      await put(backend, beforeRotation, 'e2', 'app wrote this', null, clock.now + 1);
      await backend.delete(ns, 'e3');
      return getMany(namespace, keys);
    });

    const report = await reencryptInPlace({ backend, open: afterRotation, seal: afterRotation, shouldRewrite: (e) => e.keyId === 'k1', stateDir: dir, clock: clock.read });

    expect(report.counts).toMatchObject({ rewritten: 3, skippedChanged: 2 });
    const e2 = (await backend.get(ns, 'e2'))!;
    expect(Buffer.from(await afterRotation.open(e2.value, e2)).toString()).toBe('app wrote this');
    expect(e2.keyId).toBe('k1');
    expect(await backend.has(ns, 'e3')).toBe(false);
  });

  test('an interrupted sweep resumes from its checkpoint; a different sweep is refused', async () => {
    // A file cache: its scan cursor is a key position, stable across a restart (the memory
    // backend's positional cursor is reordered by reads and dies with the process anyway).
    const backend = new FileBackend({ dir: join(dir, 'cache'), clock: clock.read });
    for (let i = 0; i < 50; i++) await put(backend, beforeRotation, `e${i}`, `v${i}`, null, clock.now);
    const setMany = backend.setMany.bind(backend);
    let calls = 0;
    const spy = jest.spyOn(backend, 'setMany').mockImplementation(async (entries: readonly StoredEntry[]): Promise<WriteResult> => {
      if (++calls === 3) throw new Error('process killed');
      return setMany(entries);
    });
    const options = { backend, open: afterRotation, seal: afterRotation, shouldRewrite: (e: StoredEntry) => e.keyId === 'k1', stateDir: join(dir, 'state'), clock: clock.read, batchSize: 10, description: 'rotate k1 -> k2' };
    await expect(reencryptInPlace(options)).rejects.toThrow('process killed');
    spy.mockRestore();

    await expect(reencryptInPlace({ ...options, description: 'enable encryption' })).rejects.toThrow(PlanMismatchError);
    const report = await reencryptInPlace(options);

    expect(report.resumed).toBe(true);
    // Batches the killed run wrote but had not checkpointed are found already rewritten: unchanged.
    expect(report.counts.scanned).toBe(50);
    expect(report.counts.rewritten + report.counts.unchanged).toBe(50);
    expect(report.counts.rewritten).toBeGreaterThanOrEqual(20);
    expect(report.counts.keyIdsAfter).toEqual({ k2: 50 });
    for await (const e of backend.entries()) expect(e.keyId).toBe('k2');
    await backend.close();
  });

  test('entries that cannot be opened are left in place and counted with their reason', async () => {
    const backend = new MemoryBackend({ clock: clock.read });
    const stranger = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k9', material: randomBytes(32) }]) });
    await put(backend, beforeRotation, 'ok', 'v', null, clock.now);
    await put(backend, stranger, 'lost', 'v', null, clock.now);
    const report = await reencryptInPlace({ backend, open: afterRotation, seal: afterRotation, shouldRewrite: (e) => e.keyId !== 'k2', stateDir: dir, clock: clock.read });
    expect(report.counts).toMatchObject({ rewritten: 1, failed: 1, failuresByReason: { KEY_UNAVAILABLE: 1 } });
    expect(report.counts.keyIdsAfter).toEqual({ k2: 1, k9: 1 });
    expect(report.failures[0]).toMatchObject({ key: 'lost', reason: 'KEY_UNAVAILABLE' });
  });
});

describe('reencryptInPlace with an abort signal', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const beforeRotation = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: k1 }]) });
  const afterRotation = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: k1 }, { id: 'k2', material: k2 }], 'k2') });
  let dir: string;
  let clock: ManualClock;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cv-reencrypt-abort-'));
    clock = new ManualClock(1_800_000_000_000);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function seeded(): Promise<CountingBackend> {
    const backend = new CountingBackend({ clock: clock.read });
    for (let i = 0; i < 90; i++) await put(backend, beforeRotation, `old${i}`, `v${i}`, clock.now + 60_000, clock.now);
    for (let i = 0; i < 10; i++) await put(backend, afterRotation, `new${i}`, `n${i}`, null, clock.now);
    backend.scans = 0;
    backend.written = 0;
    return backend;
  }

  test('stops after the batches in flight, checkpoints them, and running it again finishes with the counts of an uninterrupted sweep', async () => {
    const sweep = (backend: CacheBackend, stateDir: string, extra: { signal?: AbortSignal; onProgress?: (p: { entriesDone: number }) => void } = {}) =>
      reencryptInPlace({ backend, open: afterRotation, seal: afterRotation, shouldRewrite: (e) => e.keyId === 'k1', stateDir, clock: clock.read, batchSize: 8, description: 'rotate', ...extra });

    const referenceBackend = await seeded();
    const reference = await sweep(referenceBackend, join(dir, 'reference'));
    expect(reference.stopped).toBe(false);

    const backend = await seeded();
    const controller = new AbortController();
    const first = await sweep(backend, join(dir, 'state'), {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.entriesDone >= 24) controller.abort();
      },
    });
    expect(first.stopped).toBe(true);
    expect(first.counts.rewritten).toBeGreaterThanOrEqual(24);
    expect(first.counts.rewritten).toBeLessThan(90);
    // Nothing rewritten beyond what the checkpoint counts.
    expect(backend.written).toBe(first.counts.rewritten);
    const k2 = (await backend.scan({ pageSize: 1000 })).entries.filter((e) => e.keyId === 'k2').length;
    expect(k2).toBe(10 + first.counts.rewritten);
    backend.scans -= 1; // the look above, not the sweep's

    const second = await sweep(backend, join(dir, 'state'));
    expect(second).toMatchObject({ stopped: false, resumed: true });
    expect(second.counts).toEqual(reference.counts);
    expect(backend.scans).toBe(referenceBackend.scans);
    expect(backend.written).toBe(referenceBackend.written);
    for await (const e of backend.entries()) {
      expect(e.keyId).toBe('k2');
      expect(Buffer.from(await afterRotation.open(e.value, e)).toString()).toMatch(/^[vn]\d+$/);
    }
  });
});
