import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CacheBackend } from '../../client/backends/cacheBackend';
import { DynamoDBBackend } from '../../client/backends/dynamodbBackend';
import { FileBackend } from '../../client/backends/fileBackend';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import type { EncryptionProvider } from '../../client/crypto/encryptionProvider';
import { StaticKeySource } from '../../client/keys/staticKeySource';
import { CacheMigrator } from '../../client/migrate/cacheMigrator';
import type { StoredEntry } from '../../client/types';
import { useDynamoTestTable } from '../support/dynamoTestTable';

const ENTRIES = 10_000;
const EXPIRED = 100;

const keysFor = (id: string) => new AeadEncryption({ keys: new StaticKeySource([{ id, material: randomBytes(32) }]) });

async function plaintexts(backend: CacheBackend, provider: EncryptionProvider): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of backend.entries()) {
    out.set(`${e.namespace}/${e.key}`, `${e.expiresAt}|${e.createdAt}|${Buffer.from(await provider.open(e.value, e)).toString('base64')}`);
  }
  return out;
}

describe('migrating a file cache to DynamoDB Local and back', () => {
  const table = useDynamoTestTable('cv-migrate');
  let dir: string;
  let file: FileBackend;
  let dynamo: DynamoDBBackend;
  let back: FileBackend;
  const fileKeys = keysFor('file1');
  const dynamoKeys = keysFor('shared7');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cv-migrate-ddb-'));
    file = new FileBackend({ dir: join(dir, 'file') });
    back = new FileBackend({ dir: join(dir, 'back') });
    dynamo = new DynamoDBBackend({ tableName: table.tableName, client: table.client });
    const now = Date.now();
    const entries: StoredEntry[] = [];
    for (let i = 0; i < ENTRIES + EXPIRED; i++) {
      const namespace = `ns${i % 4}`;
      const key = `entry:${i}`;
      const expiresAt = i < EXPIRED ? now - 60_000 : i % 3 === 0 ? null : now + 86_400_000;
      // ~1 KB values, a few larger than a DynamoDB item so they are chunked.
      const sealed = await fileKeys.seal(randomBytes(i % 2500 === 7 ? 600_000 : 900 + (i % 200)), { namespace, key, expiresAt });
      entries.push({ namespace, key, expiresAt, value: sealed.bytes, keyId: sealed.keyId, createdAt: now - i });
    }
    for (let i = 0; i < entries.length; i += 1000) await file.setMany(entries.slice(i, i + 1000));
  }, 120_000);

  afterAll(async () => {
    await file.close();
    await back.close();
    await dynamo.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('10,000 entries go to DynamoDB re-encrypted under another key, validate, come back, and roll back', async () => {
    const toDynamo = new CacheMigrator({
      source: file,
      destination: dynamo,
      transcode: { open: fileKeys, seal: dynamoKeys },
      stateDir: join(dir, 'to-dynamo'),
      sourceDescription: `file:${join(dir, 'file')}`,
      destinationDescription: `dynamodb:${table.tableName}`,
    });

    const plan = await toDynamo.plan();
    expect(plan).toMatchObject({ entries: ENTRIES, skippedExpired: EXPIRED, unmigratable: 0 });
    // At least one write unit per ~1 KB entry plus the chunked ones.
    expect(plan.estimatedWriteUnits).toBeGreaterThan(ENTRIES);
    expect(readdirSync(dir)).not.toContain('to-dynamo');
    let tableCount = 0;
    for await (const _e of dynamo.entries()) tableCount += 1;
    expect(tableCount).toBe(0);

    const there = await toDynamo.run();
    expect(there.counts).toMatchObject({ entries: ENTRIES, skippedExpired: EXPIRED, failed: 0 });
    const validation = await toDynamo.validate();
    expect(validation).toMatchObject({ ok: true, exact: true, matched: ENTRIES, destinationEntries: ENTRIES });
    for await (const e of dynamo.entries({ namespace: 'ns1', pageSize: 50 })) expect(e.keyId).toBe('shared7');

    const home = new CacheMigrator({ source: dynamo, destination: back, transcode: { open: dynamoKeys, seal: fileKeys }, stateDir: join(dir, 'home') });
    const returned = await home.run();
    expect(returned.counts).toMatchObject({ entries: ENTRIES, skippedExpired: 0, failed: 0 });
    expect((await home.validate()).exact).toBe(true);
    expect(await plaintexts(back, fileKeys)).toEqual(await plaintexts(file, fileKeys));

    const rolledBack = await toDynamo.rollback();
    expect(rolledBack).toEqual({ restored: 0, removed: ENTRIES, journalRecords: ENTRIES });
    tableCount = 0;
    for await (const _e of dynamo.entries()) tableCount += 1;
    expect(tableCount).toBe(0);
  }, 300_000);
});
