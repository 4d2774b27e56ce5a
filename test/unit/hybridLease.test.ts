import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBLease } from '../../client/dynamodb/dynamodbLease';
import type { Logger } from '../../client/types';
import { ManualClock } from '../contract/backendContract';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const conditionFailed = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
const accessDenied = () =>
  new DynamoDBServiceException({
    name: 'AccessDeniedException',
    $fault: 'client',
    message: 'User: arn:aws:iam::1:user/app is not authorized to perform: dynamodb:PutItem on resource: table/cachevault',
    $metadata: {},
  });

describe('DynamoDBLease (mocked DynamoDB)', () => {
  const ddb = mockClient(DynamoDBClient);
  let clock: ManualClock;
  let sleeps: number[];
  let warnings: object[];
  const logger: Logger = { debug() {}, info() {}, warn: (obj) => void warnings.push(obj), error() {} };
  const ref = { namespace: 'reports', key: 'user:42 secret-looking key' };
  const lease = () =>
    new DynamoDBLease({
      tableName: 'cachevault',
      client: new DynamoDBClient({ region: 'us-east-1' }),
      leaseMs: 1_000,
      clock: clock.read,
      logger,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock.advance(ms);
      },
    });

  beforeEach(() => {
    ddb.reset();
    clock = new ManualClock(1_700_000_000_000);
    sleeps = [];
    warnings = [];
  });

  test('acquire writes a lease item with a conditional put, a TTL in seconds and the key hashed', async () => {
    ddb.on(PutItemCommand).resolves({});
    const held = await lease().acquire(ref);
    expect(held.acquired).toBe(true);
    const input = ddb.commandCalls(PutItemCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe('attribute_not_exists(#pk) OR #exp <= :now');
    expect(input.ExpressionAttributeValues).toEqual({ ':now': { N: String(clock.now) } });
    expect(input.Item!.expiresAt).toEqual({ N: String(Math.ceil((clock.now + 1_000) / 1000)) });
    expect(input.Item!.kd).toEqual({ S: 'l' });
    expect(input.Item!.pk!.S).toMatch(/^#lease#reports#[0-9a-f]{64}$/);
    expect(JSON.stringify(input)).not.toContain('secret-looking');
  });

  test('a lease someone else holds is reported as not acquired', async () => {
    ddb.on(PutItemCommand).rejects(conditionFailed());
    const l = lease();
    expect((await l.acquire(ref)).acquired).toBe(false);
    expect(l.stats()).toMatchObject({ contended: 1, errors: 0 });
  });

  test('a lease that cannot be written lets the caller compute, and says why in the log', async () => {
    ddb.on(PutItemCommand).rejects(accessDenied());
    const l = lease();
    const held = await l.acquire(ref);
    expect(held.acquired).toBe(true);
    await held.release();
    expect(ddb.commandCalls(DeleteItemCommand)).toHaveLength(0);
    expect(l.stats().errors).toBe(1);
    expect(JSON.stringify(warnings)).toMatch(/PutItem/);
  });

  test('release deletes only with the owner token and ignores a lease that passed to someone else', async () => {
    ddb.on(PutItemCommand).resolves({});
    ddb.on(DeleteItemCommand).rejects(conditionFailed());
    const l = lease();
    const held = await l.acquire(ref);
    await held.release();
    await held.release();
    const calls = ddb.commandCalls(DeleteItemCommand);
    expect(calls).toHaveLength(1);
    const token = ddb.commandCalls(PutItemCommand)[0]!.args[0].input.Item!.own!.S;
    expect(calls[0]!.args[0].input.ExpressionAttributeValues).toEqual({ ':token': { S: token } });
    expect(l.stats().errors).toBe(0);
  });

  test('waitFor polls with growing waits until the value appears', async () => {
    ddb.on(GetItemCommand).resolves({ Item: { exp: { N: String(clock.now + 1_000) } } });
    let polls = 0;
    const result = await lease().waitFor(ref, async () => (++polls < 4 ? { found: false, value: undefined } : { found: true, value: 'done' }));
    expect(result).toEqual({ found: true, value: 'done' });
    expect(sleeps).toHaveLength(3);
    expect(sleeps[2]!).toBeGreaterThan(sleeps[0]!);
  });

  test('waitFor gives up when the lease is released without a value', async () => {
    ddb.on(GetItemCommand).resolvesOnce({ Item: { exp: { N: String(clock.now + 1_000) } } }).resolves({});
    const l = lease();
    expect(await l.waitFor(ref, async () => ({ found: false, value: undefined }))).toBeUndefined();
    expect(l.stats().lapsed).toBe(1);
  });

  test('waitFor stops waiting when the lease cannot be read', async () => {
    ddb.on(GetItemCommand).rejects(accessDenied());
    const l = lease();
    expect(await l.waitFor(ref, async () => ({ found: false, value: undefined }))).toBeUndefined();
    expect(l.stats().errors).toBe(1);
  });
});
