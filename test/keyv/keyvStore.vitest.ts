/**
 * @keyv/test-suite, the suite every official Keyv store runs, against cachevault as a Keyv
 * store over the file tier, DynamoDB Local and the hybrid of both, encrypted as configured.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import keyvTestSuite from '@keyv/test-suite';
import Keyv from 'keyv';
import * as vitest from 'vitest';
import { DynamoDBBackend } from '../../client/backends/dynamodbBackend';
import { FileBackend } from '../../client/backends/fileBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import type { CacheBackend } from '../../client/backends/cacheBackend';
import { CacheManager } from '../../client/core/cacheManager';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import { createDynamoDBClient } from '../../client/dynamodb/dynamodbClient';
import { TableManager } from '../../client/dynamodb/tableManager';
import { KeyvCacheVaultStore } from '../../client/integrations/keyvStore';
import { StaticKeySource } from '../../client/keys/staticKeySource';

const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
vitest.afterAll(async () => {
  for (const close of closers) await close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function encrypted(backend: CacheBackend): CacheManager {
  const cache = new CacheManager({ backend, encryption: new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: randomBytes(32) }]) }) });
  closers.push(() => cache.close());
  return cache;
}

function fileBackend(): FileBackend {
  const dir = mkdtempSync(join(tmpdir(), 'cv-keyv-'));
  dirs.push(dir);
  return new FileBackend({ dir });
}

async function dynamoBackend(): Promise<DynamoDBBackend> {
  const endpoint = process.env.CACHEVAULT_TEST_DYNAMODB_ENDPOINT;
  if (!endpoint) throw new Error('CACHEVAULT_TEST_DYNAMODB_ENDPOINT is not set (vitest.config.mts starts DynamoDB Local)');
  const client = createDynamoDBClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const tableName = `cv-keyv-${randomBytes(4).toString('hex')}`;
  await new TableManager({ client, tableName, waitTimeoutMs: 60_000 }).create();
  return new DynamoDBBackend({ tableName, client });
}

// Every store() the suite asks for is a new adapter over the same cache, as apps create them.
vitest.describe('cachevault as a Keyv store: file tier', () => {
  const cache = encrypted(fileBackend());
  keyvTestSuite(vitest, Keyv, () => new KeyvCacheVaultStore({ cache }));
});

vitest.describe('cachevault as a Keyv store: DynamoDB Local', async () => {
  const cache = encrypted(await dynamoBackend());
  keyvTestSuite(vitest, Keyv, () => new KeyvCacheVaultStore({ cache }));
});

vitest.describe('cachevault as a Keyv store: hybrid (memory, file, DynamoDB Local)', async () => {
  const backend = new HybridBackend({
    tiers: [
      { name: 'memory', backend: new MemoryBackend() },
      { name: 'file', backend: fileBackend() },
      { name: 'dynamodb', backend: await dynamoBackend() },
    ],
  });
  const cache = encrypted(backend);
  keyvTestSuite(vitest, Keyv, () => new KeyvCacheVaultStore({ cache }));
});
