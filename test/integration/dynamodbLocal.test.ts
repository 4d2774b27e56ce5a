import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDBClient } from '../../client/dynamodb/dynamodbClient';
import { DynamoDbLocalError } from '../../client/dynamodb/errors';
import { TableManager } from '../../client/dynamodb/tableManager';
import { startDynamoDbLocal } from '../../client/local/dynamoDbLocal';

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('startDynamoDbLocal()', () => {
  test('starts a persistent engine on loopback that keeps tables across restarts, and stop() ends the JVM', async () => {
    const dbPath = mkdtempSync(join(tmpdir(), 'cv-ddb-'));
    try {
      const first = await startDynamoDbLocal({ dbPath });
      expect(first.endpoint).toBe(`http://127.0.0.1:${first.port}`);
      const client = createDynamoDBClient({ region: 'us-east-1', endpoint: first.endpoint, maxAttempts: 1 });
      await new TableManager({ client, tableName: 'persisted' }).create();
      client.destroy();
      await first.stop();
      expect(isAlive(first.pid)).toBe(false);

      const second = await startDynamoDbLocal({ dbPath, port: first.port });
      try {
        const again = createDynamoDBClient({ region: 'eu-west-1', endpoint: second.endpoint, maxAttempts: 1 });
        // -sharedDb: the table is visible whatever region/credentials the client uses.
        expect((await again.send(new ListTablesCommand({}))).TableNames).toEqual(['persisted']);
        again.destroy();
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dbPath, { recursive: true, force: true });
    }
  });

  test('says to install Java 17 when there is no Java executable', async () => {
    const err = await startDynamoDbLocal({ javaPath: '/nonexistent/bin/java' }).catch((e: unknown) => e);
    if (!(err instanceof Error)) await (err as { stop(): Promise<void> }).stop();
    expect(err).toBeInstanceOf(DynamoDbLocalError);
    expect((err as DynamoDbLocalError).hint).toContain('openjdk-17-jre-headless');
  });
});
