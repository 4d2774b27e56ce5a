import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend } from '../../client/backends/backendFactory';
import { TableNotFoundError } from '../../client/dynamodb/errors';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { AdvancedCacheConfig, type CacheConfigInput } from '../../client/config/schema';
import { TableManager } from '../../client/dynamodb/tableManager';
import { testDynamoClient, testDynamoEndpoint } from '../support/dynamoTestTable';

describe('createBackend against DynamoDB Local', () => {
  let dir: string;
  const tables: string[] = [];
  const newTable = () => {
    const name = `cv-factory-${randomBytes(4).toString('hex')}`;
    tables.push(name);
    return name;
  };
  const config = (input: CacheConfigInput) =>
    AdvancedCacheConfig.parse({ ...input, file: { dir: join(dir, 'cache') }, dynamodb: { endpoint: testDynamoEndpoint(), maxAttempts: 2, ...input.dynamodb } });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cv-factory-int-'));
  });
  afterAll(async () => {
    const client = testDynamoClient();
    for (const tableName of tables) await new TableManager({ client, tableName }).delete().catch(() => undefined);
    client.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('dynamodb.createTable creates the table with TTL and the hybrid works through it', async () => {
    const tableName = newTable();
    const created = await createBackend(config({ backend: 'hybrid', dynamodb: { tableName, createTable: true }, hybrid: { lease: true, tiers: ['memory', 'file', 'dynamodb'] } }));
    try {
      expect(created.name).toBe('hybrid');
      expect((created.backend as HybridBackend).tierNames).toEqual(['memory', 'file', 'dynamodb']);
      expect(created.warnings).toEqual([]);
      const client = testDynamoClient();
      const summary = await new TableManager({ client, tableName }).describe();
      client.destroy();
      expect(summary.ttl).toEqual({ status: 'ENABLED', attribute: 'expiresAt' });
      const write = await created.backend.set({ namespace: 'n', key: 'k', value: Buffer.from('v'), expiresAt: null, keyId: 'none', createdAt: Date.now() });
      expect(write).toEqual({ written: 1 });
      expect(created.lease).toBeDefined();
      const held = await created.lease!.acquire({ namespace: 'n', key: 'k' });
      expect(held.acquired).toBe(true);
      await held.release();
    } finally {
      await created.backend.close();
      created.lease?.close();
    }
  });

  test('a missing table stops even a hybrid backend, with the way to create it', async () => {
    const attempt = createBackend(config({ backend: 'hybrid', dynamodb: { tableName: newTable() }, hybrid: { tiers: ['memory', 'file', 'dynamodb'] } }));
    // The documented code of a missing table, not the generic start failure that would hide it.
    await expect(attempt).rejects.toBeInstanceOf(TableNotFoundError);
    await expect(attempt).rejects.toMatchObject({ message: expect.stringMatching(/does not exist|not found/i) });
  });

  test('a missing table with a fallback configured starts the fallback and says why', async () => {
    const created = await createBackend(config({ backend: 'dynamodb', fallback: 'file', dynamodb: { tableName: newTable() } }));
    try {
      expect(created.name).toBe('file');
      expect(created.fallbackReason).toMatch(/dynamodb backend could not start/);
    } finally {
      await created.backend.close();
    }
  });
});
