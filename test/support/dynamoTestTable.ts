import { randomBytes } from 'node:crypto';
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoDBClient } from '../../client/dynamodb/dynamodbClient';
import { TableManager } from '../../client/dynamodb/tableManager';

/** The DynamoDB Local endpoint globalSetup started (loopback only). */
export function testDynamoEndpoint(): string {
  const endpoint = process.env.CACHEVAULT_TEST_DYNAMODB_ENDPOINT;
  if (!endpoint) {
    throw new Error('CACHEVAULT_TEST_DYNAMODB_ENDPOINT is not set: run with `npx jest --selectProjects integration` so globalSetup starts DynamoDB Local.');
  }
  return endpoint;
}

/** A client for the test engine; short timeouts so a dead engine fails tests quickly. */
export function testDynamoClient(overrides: { maxAttempts?: number; requestTimeoutMs?: number } = {}): DynamoDBClient {
  return createDynamoDBClient({
    region: 'us-east-1',
    endpoint: testDynamoEndpoint(),
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: overrides.maxAttempts ?? 3,
    requestTimeoutMs: overrides.requestTimeoutMs ?? 10_000,
  });
}

/**
 * Creates `tableName` as someone might by hand: the cache's keys (pk, sk), on demand, and none of
 * what TableManager adds (no TTL). Returns once the create is accepted, not once it is ACTIVE.
 */
export async function createTableWithoutTtl(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}

export interface DynamoTestTable {
  readonly tableName: string;
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  readonly manager: TableManager;
}

/**
 * Gives a test file its own uniquely named table: created (with TTL) in beforeAll, deleted in
 * afterAll. Read the fields inside tests/hooks, after beforeAll ran.
 */
export function useDynamoTestTable(prefix = 'cv-test'): DynamoTestTable {
  const state: { table?: DynamoTestTable } = {};
  beforeAll(async () => {
    const client = testDynamoClient();
    const tableName = `${prefix}-${randomBytes(5).toString('hex')}`;
    const manager = new TableManager({ client, tableName, waitTimeoutMs: 30_000 });
    await manager.create();
    state.table = { tableName, endpoint: testDynamoEndpoint(), client, manager };
  });
  afterAll(async () => {
    if (!state.table) return;
    await state.table.manager.delete().catch(() => undefined);
    state.table.client.destroy();
  });
  const get = (): DynamoTestTable => {
    if (!state.table) throw new Error('useDynamoTestTable(): the table is created in beforeAll; use it inside tests or hooks.');
    return state.table;
  };
  return {
    get tableName() {
      return get().tableName;
    },
    get endpoint() {
      return get().endpoint;
    },
    get client() {
      return get().client;
    },
    get manager() {
      return get().manager;
    },
  };
}
