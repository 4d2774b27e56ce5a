import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBackend } from '../../../client/backends/memoryBackend';
import { AeadEncryption } from '../../../client/crypto/aeadEncryption';
import { StaticKeySource } from '../../../client/keys/staticKeySource';
import { CheckpointStore } from '../../../client/migrate/checkpoint';
import { reencryptInPlace, type ReencryptCounts } from '../../../client/migrate/reencrypt';
import { InvalidEventError, InvocationDeadlineError } from '../../../lambda/errors';
import { parseJob } from '../../../lambda/migrateJob';
import { StoppableBackend } from '../../../lambda/stoppableBackend';

describe('migrate job events', () => {
  it('fills in the documented defaults for a bare re-encryption job', () => {
    expect(parseJob({ kind: 'reencrypt' })).toEqual({
      kind: 'reencrypt',
      includeUnencrypted: false,
      reason: 'reencrypt',
      options: { windDownMs: 30_000, continueWith: 'self', maxInvocations: 1000 },
    });
  });

  it('accepts a copy between two DynamoDB tables and refuses caches that do not outlive an invocation', () => {
    expect(parseJob({ kind: 'copy', source: 'dynamodb:cache-a?region=eu-west-1', destination: 'dynamodb:cache-b' }).kind).toBe('copy');
    expect(() => parseJob({ kind: 'copy', source: 'file:./cache', destination: 'memory:' })).toThrow(
      /source: must be a dynamodb:TABLE spec.*destination: must be a dynamodb:TABLE spec/,
    );
  });

  it('names every bad field and refuses unknown ones', () => {
    const attempt = () => parseJob({ kind: 'reencrypt', fromKeyIds: ['k 1'], options: { windDownMs: 10, speed: 'max' } });
    expect(attempt).toThrow(InvalidEventError);
    expect(attempt).toThrow(/fromKeyIds\.0: .*options\.windDownMs: .*options: Unrecognized key: "speed"/s);
  });

  it('refuses a continuation that is not one the handler wrote', () => {
    expect(() => parseJob({ kind: 'reencrypt', continuation: { jobId: 'job-1', invocation: 2, checkpoint: '{}' } })).toThrow(/continuation\.jobId/);
    expect(() => parseJob({ kind: 'reencrypt', continuation: { jobId: '0f8fad5b-d9cb-469f-a165-70867728950e', invocation: 1, checkpoint: '{}' } })).toThrow(
      /continuation\.invocation/,
    );
  });
});

describe('StoppableBackend', () => {
  const keys = new StaticKeySource([{ id: 'k1', material: Buffer.alloc(32, 1) }, { id: 'k2', material: Buffer.alloc(32, 2) }], 'k2');
  const oldKeys = new StaticKeySource([{ id: 'k1', material: Buffer.alloc(32, 1) }], 'k1');
  let stateDir: string;
  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'cv-stoppable-'));
  });
  afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

  async function seeded(n: number): Promise<MemoryBackend> {
    const backend = new MemoryBackend();
    const sealer = new AeadEncryption({ keys: oldKeys });
    for (let i = 0; i < n; i++) {
      const identity = { namespace: 'ns', key: `key-${i}`, expiresAt: null };
      const sealed = await sealer.seal(Buffer.from(`value ${i}`), identity);
      await backend.set({ ...identity, value: sealed.bytes, keyId: sealed.keyId, createdAt: 1 });
    }
    return backend;
  }

  it('ends a sweep at a page boundary once told to stop, and a second run from the checkpoint finishes it', async () => {
    const inner = await seeded(40);
    const encryption = new AeadEncryption({ keys });
    let scans = 0;
    // The client keeps a few pages in flight per segment; seven pages read lets some commit.
    const stopAfterSevenScans = new StoppableBackend(inner, () => ({ stop: ++scans > 7, remainingMs: 1_000 }));
    const sweep = (backend: typeof inner | StoppableBackend) =>
      reencryptInPlace({ backend, open: encryption, seal: encryption, shouldRewrite: (e) => e.keyId === 'k1', stateDir, batchSize: 4, description: 'test' });

    await expect(sweep(stopAfterSevenScans)).rejects.toThrow(InvocationDeadlineError);
    const checkpoint = await new CheckpointStore<ReencryptCounts>(stateDir).load();
    expect(checkpoint?.status).toBe('running');
    expect(checkpoint?.counts.rewritten).toBeGreaterThan(0);
    expect(checkpoint?.counts.rewritten).toBeLessThan(40);
    // Every checkpointed page is written; a page in flight may be written ahead of the checkpoint.
    const k2 = [...(await inner.scan({ pageSize: 100 })).entries].filter((e) => e.keyId === 'k2').length;
    expect(k2).toBeGreaterThanOrEqual(checkpoint?.counts.rewritten ?? 0);

    const report = await sweep(new StoppableBackend(inner, () => ({ stop: false, remainingMs: 60_000 })));
    expect(report.resumed).toBe(true);
    const after = (await inner.scan({ pageSize: 100 })).entries;
    expect(after.map((e) => e.keyId)).toEqual(Array(40).fill('k2'));
    for (const e of after) expect(Buffer.from(await encryption.open(e.value, e)).toString()).toMatch(/^value \d+$/);
  });

  it('passes every other call straight through', async () => {
    const inner = await seeded(2);
    const backend = new StoppableBackend(inner, () => ({ stop: true, remainingMs: 0 }));
    expect(backend.name).toBe(inner.name);
    expect(backend.capabilities).toBe(inner.capabilities);
    expect((await backend.get('ns', 'key-0'))?.keyId).toBe('k1');
    expect(await backend.getMany('ns', ['key-0', 'nope'])).toEqual([expect.objectContaining({ key: 'key-0' }), undefined]);
    expect(await backend.delete('ns', 'key-1')).toBe(true);
    await expect(backend.scan()).rejects.toThrow(InvocationDeadlineError);
  });
});
