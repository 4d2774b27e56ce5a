import { randomBytes } from 'node:crypto';
import { CreateTableCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBError, TableNotFoundError, TableSchemaMismatchError } from '../../client/dynamodb/errors';
import { TableManager } from '../../client/dynamodb/tableManager';
import { TableSchema } from '../../client/schema/tableSchema';
import { createTableWithoutTtl, testDynamoClient } from '../support/dynamoTestTable';

const client = testDynamoClient();
const uniqueName = (label: string) => `cv-tm-${label}-${randomBytes(4).toString('hex')}`;
const created: TableManager[] = [];
const manager = (tableName: string) => {
  const m = new TableManager({ client, tableName, waitTimeoutMs: 30_000 });
  created.push(m);
  return m;
};

afterAll(async () => {
  for (const m of created) await m.delete().catch(() => undefined);
  client.destroy();
});

describe('TableManager', () => {
  test('.create() makes an on-demand table with TTL on expiresAt that validates cleanly', async () => {
    const m = manager(uniqueName('create'));
    const summary = await m.create();
    expect(summary.status).toBe('ACTIVE');
    expect(summary.billingMode).toBe('PAY_PER_REQUEST');
    expect(summary.ttl).toEqual({ status: 'ENABLED', attribute: TableSchema.ttlAttribute });
    expect(await m.validate()).toEqual({ ok: true, problems: [] });
  });

  test('.create() of a table that already exists says to use ensure()', async () => {
    const m = manager(uniqueName('twice'));
    await m.create();
    const err = await m.create().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DynamoDBError);
    expect((err as DynamoDBError).hint).toContain('ensure()');
  });

  test('.create({ billingMode: PROVISIONED }) sets the given capacity', async () => {
    const m = manager(uniqueName('prov'));
    const summary = await m.create({ billingMode: 'PROVISIONED', readCapacity: 7, writeCapacity: 3 });
    expect(summary.billingMode).toBe('PROVISIONED');
    expect(summary.readCapacity).toBe(7);
    expect(summary.writeCapacity).toBe(3);
  });

  test('.validate() reports a missing table, and .describe() throws TableNotFoundError with a create hint', async () => {
    const m = new TableManager({ client, tableName: uniqueName('missing') });
    const result = await m.validate();
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.kind)).toEqual(['missing']);
    const err = await m.describe().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TableNotFoundError);
    expect((err as TableNotFoundError).hint).toContain('cachevault table create');
  });

  test('.validate() reports every key-schema mismatch and a disabled TTL', async () => {
    const tableName = uniqueName('wrong');
    const m = manager(tableName);
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const { ok, problems } = await m.validate();
    expect(ok).toBe(false);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'key-schema', expected: 'pk', actual: 'id' }),
        expect.objectContaining({ kind: 'key-schema', expected: 'sk', actual: 'none' }),
        expect.objectContaining({ kind: 'ttl', actual: 'DISABLED' }),
      ]),
    );
    await expect(m.ensure()).rejects.toBeInstanceOf(TableSchemaMismatchError);
  });

  test('.validate() flags TTL on the wrong attribute, and .enableTtl() refuses to move it silently', async () => {
    const tableName = uniqueName('ttl');
    const m = manager(tableName);
    await createTableWithoutTtl(client, tableName);
    await client.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true } }));
    const { problems } = await m.validate();
    expect(problems).toEqual([expect.objectContaining({ kind: 'ttl', expected: 'expiresAt', actual: 'ttl' })]);
    await expect(m.enableTtl()).rejects.toBeInstanceOf(TableSchemaMismatchError);
  });

  test('.ensure() creates a missing table once and then finds it valid', async () => {
    const m = manager(uniqueName('ensure'));
    expect(await m.ensure()).toEqual({ created: true });
    expect(await m.ensure()).toEqual({ created: false });
  });

  test('.ensure() turns TTL on for a table that has the right keys but no TTL', async () => {
    const tableName = uniqueName('nottl');
    const m = manager(tableName);
    await createTableWithoutTtl(client, tableName);
    await m.ensure();
    expect((await m.describe()).ttl.status).toBe('ENABLED');
  });

  test('.describe() reports item count, size, billing mode, TTL and PITR; .delete() removes the table', async () => {
    const m = new TableManager({ client, tableName: uniqueName('describe'), waitTimeoutMs: 30_000 });
    await m.create();
    const summary = await m.describe();
    expect(summary).toEqual(
      expect.objectContaining({ itemCount: 0, sizeBytes: 0, billingMode: 'PAY_PER_REQUEST', pointInTimeRecovery: expect.any(String) }),
    );
    await m.delete();
    expect((await m.validate()).problems[0]?.kind).toBe('missing');
  });
});
