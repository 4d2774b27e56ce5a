import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBBackend } from '../../client/backends/dynamodbBackend';
import { FileBackend } from '../../client/backends/fileBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import type { Clock } from '../../client/types';
import { ManualClock, runBackendContract } from '../contract/backendContract';
import { useDynamoTestTable } from '../support/dynamoTestTable';

const table = useDynamoTestTable('cv-hybrid');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function hybridOverDynamo(clock: Clock, dir = mkdtempSync(join(tmpdir(), 'cv-hybrid-'))): HybridBackend {
  dirs.push(dir);
  return new HybridBackend({
    clock,
    localTtlCapMs: 60_000,
    tierTimeoutMs: 10_000,
    tiers: [
      { name: 'memory', backend: new MemoryBackend({ clock, maxBytes: 256 * 1024 * 1024 }) },
      { name: 'file', backend: new FileBackend({ dir, clock }) },
      { name: 'dynamodb', backend: new DynamoDBBackend({ tableName: table.tableName, client: table.client, clock }) },
    ],
  });
}

runBackendContract('hybrid (memory + file + DynamoDB Local)', ({ clock }) => hybridOverDynamo(clock));

describe('HybridBackend over DynamoDB Local', () => {
  test('two machines share entries through DynamoDB and see changes after the local cap', async () => {
    const clock = new ManualClock();
    const a = hybridOverDynamo(clock.read);
    const b = hybridOverDynamo(clock.read);
    const entry = (value: string) => ({ namespace: 'shared', key: 'config', value: Buffer.from(value), expiresAt: clock.now + 3_600_000, keyId: 'k1', createdAt: clock.now });
    try {
      await a.set(entry('v1'));
      expect(Buffer.from((await b.get('shared', 'config'))!.value).toString()).toBe('v1');
      expect(b.stats().tiers!.dynamodb!.hits).toBe(1);
      await a.set(entry('v2'));
      expect(Buffer.from((await b.get('shared', 'config'))!.value).toString()).toBe('v1');
      clock.advance(60_000);
      expect(Buffer.from((await b.get('shared', 'config'))!.value).toString()).toBe('v2');
      await a.delete('shared', 'config');
      clock.advance(60_000);
      expect(await b.get('shared', 'config')).toBeUndefined();
    } finally {
      await a.close();
      await b.close();
    }
  });
});
