/**
 * The migrate Lambda against DynamoDB Local (the table), with stateful KMS and Secrets Manager
 * fakes: a re-encryption after a key rotation that runs out of time, continues in a second
 * invocation from its checkpoint, and leaves every entry readable under the new key.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { createCache } from '../../client/createCache';
import { InvalidEventError } from '../../lambda/errors';
import { handler, observability, type MigrateResult } from '../../lambda/migrate';
import type { MigrateJobInput } from '../../lambda/migrateJob';
import { lambdaContext } from '../support/awsFakes';
import { useDynamoTestTable } from '../support/dynamoTestTable';
import { useLambdaEnvironment } from '../support/lambdaEnvironment';

const FUNCTION_NAME = 'cachevault-dev-migrate';
const ENTRIES = 60;
const table = useDynamoTestTable('cv-lambda-migrate');
const copyTarget = useDynamoTestTable('cv-lambda-copy');
const lambda = mockClient(LambdaClient);
const lambdaEnv = useLambdaEnvironment(table, {
  secretId: 'cachevault/cachevault/dev/key-manifest',
  tmpPrefix: 'cv-lambda-',
  // An app writes entries under k1; then the key is rotated to k2.
  seed: async () => {
    const vault = await createCache();
    for (let i = 0; i < ENTRIES; i++) await vault.cache.set(`user:${i}`, { id: i, name: `user ${i}` }, { ttlMs: 3_600_000 });
    await vault.keys?.rotate();
    await vault.close();
  },
});

/** A context whose remaining time drops by `stepMs` on every read: the job sees its deadline approach page by page. */
function countdownContext(startMs: number, stepMs: number) {
  let remaining = startMs;
  return lambdaContext(FUNCTION_NAME, () => {
    remaining = Math.max(0, remaining - stepMs);
    return remaining;
  });
}
const plentyOfTime = () => lambdaContext(FUNCTION_NAME, () => 800_000);

/** Entries by key version; only ids qualified with this deployment's manifest id count as the plain version. */
async function keyIdsInTable(): Promise<Record<string, number>> {
  const vault = await createCache();
  try {
    const counts: Record<string, number> = {};
    const suffix = `:${vault.keys!.manifestId}`;
    for await (const entry of vault.backend.entries()) {
      const version = entry.keyId.endsWith(suffix) ? entry.keyId.slice(0, -suffix.length) : `unqualified ${entry.keyId}`;
      counts[version] = (counts[version] ?? 0) + 1;
    }
    return counts;
  } finally {
    await vault.close();
  }
}

beforeAll(() => {
  observability.logger.setLogLevel('SILENT');
});
afterAll(() => {
  lambda.restore();
});
beforeEach(() => {
  lambda.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
});

describe('migrate handler (DynamoDB Local)', () => {
  it('re-encrypts under the new key across a timeout: stops at a page boundary, re-invokes itself with the checkpoint, and finishes', async () => {
    expect(lambdaEnv.secrets.current().versions.map((v) => [v.id, v.state])).toEqual([['k1', 'decrypt-only'], ['k2', 'active']]);
    expect(await keyIdsInTable()).toEqual({ k1: ENTRIES });

    const job: MigrateJobInput = { kind: 'reencrypt', reason: 'rotation to k2', options: { batchSize: 4, concurrency: 1, windDownMs: 30_000 } };
    const first = (await handler(job, countdownContext(200_000, 15_000))) as MigrateResult;
    expect(first.status).toBe('continued');
    expect(first.invocation).toBe(1);
    expect(first.processedThisInvocation).toBeGreaterThan(0);
    expect(first.processedThisInvocation).toBeLessThan(ENTRIES);
    expect(first.totals.written).toBe(first.processedThisInvocation);

    // Part done, nothing half written: every entry is under exactly one of the two keys. Pages
    // in flight when the job stopped were finished and checkpointed, so the table matches the totals.
    const midway = await keyIdsInTable();
    expect(midway.k2).toBe(first.totals.written);
    expect(midway.k1).toBeGreaterThan(0);
    expect(midway.k1 + midway.k2).toBe(ENTRIES);

    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    const call = lambda.commandCalls(InvokeCommand)[0].args[0].input;
    expect(call).toMatchObject({ FunctionName: FUNCTION_NAME, InvocationType: 'Event' });
    const next = JSON.parse(Buffer.from(call.Payload as Uint8Array).toString('utf8')) as MigrateJobInput;
    expect(next).toMatchObject({ ...job, continuation: { jobId: first.jobId, invocation: 2 } });

    const second = (await handler(next, plentyOfTime())) as MigrateResult;
    expect(second).toMatchObject({ status: 'complete', jobId: first.jobId, invocation: 2, totals: { seen: ENTRIES, failed: 0 } });
    expect(second.processedThisInvocation).toBe(ENTRIES - first.processedThisInvocation);
    // Nothing was rewritten twice: the two invocations' writes add up to the entries.
    expect(second.totals.written).toBe(ENTRIES);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);

    expect(await keyIdsInTable()).toEqual({ k2: ENTRIES });
    // The rotation is closed: with no entry left under k1, the complete job retired it.
    expect(second.retiredKeyIds).toEqual(['k1']);
    expect(lambdaEnv.secrets.current().versions.map((v) => [v.id, v.state])).toEqual([['k1', 'retired'], ['k2', 'active']]);
    const vault = await createCache();
    try {
      for (let i = 0; i < ENTRIES; i++) expect(await vault.cache.get(`user:${i}`)).toEqual({ id: i, name: `user ${i}` });
    } finally {
      await vault.close();
    }
  });

  it('with continueWith "return", hands back the event that continues the job instead of invoking itself', async () => {
    const job: MigrateJobInput = { kind: 'reencrypt', fromKeyIds: ['k2'], reason: 'drill', options: { batchSize: 4, concurrency: 1, continueWith: 'return' } };
    const first = (await handler(job, countdownContext(200_000, 15_000))) as MigrateResult;
    expect(first.status).toBe('continued');
    expect(first.next).toMatchObject({ kind: 'reencrypt', continuation: { jobId: first.jobId, invocation: 2 } });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
    // k2 is active, so rewriting "k2 entries" re-seals them under k2: nothing changes but the bytes.
    const second = (await handler(first.next, plentyOfTime())) as MigrateResult;
    expect(second.status).toBe('complete');
    expect(second.totals.seen).toBe(ENTRIES);
  });

  it('publishes entries processed per invocation and whether the job completed', async () => {
    const addMetric = jest.spyOn(observability.metrics, 'addMetric');
    await handler({ kind: 'reencrypt', reason: 'metrics' }, plentyOfTime());
    const byName = Object.fromEntries(addMetric.mock.calls.map(([name, , value]) => [name, value]));
    expect(byName).toEqual({ MigrationItemsProcessed: ENTRIES, MigrationItemsRewritten: 0, MigrationItemsFailed: 0, MigrationCompleted: 1 });
    addMetric.mockRestore();
  });

  it('rejects an invalid job, naming the bad fields, and touches nothing', async () => {
    await expect(handler({ kind: 'copy', source: 'file:/tmp/x', destination: 'dynamodb:other' }, plentyOfTime())).rejects.toThrow(
      /source: must be a dynamodb:TABLE spec/,
    );
    await expect(handler({ kind: 'shuffle' }, plentyOfTime())).rejects.toThrow(InvalidEventError);
    expect(await keyIdsInTable()).toEqual({ k2: ENTRIES });
  });

  it('refuses to start when the invocation has no time left beyond the wind-down', async () => {
    await expect(handler({ kind: 'reencrypt' }, lambdaContext(FUNCTION_NAME, () => 20_000))).rejects.toThrow(/leaves no time to work/);
  });

  it('copies the table to another one across a timeout and a resume, bytes unchanged', async () => {
    const spec = (name: string) => `dynamodb:${name}?endpoint=${encodeURIComponent(table.endpoint)}&region=us-east-1`;
    const job: MigrateJobInput = { kind: 'copy', source: spec(table.tableName), destination: spec(copyTarget.tableName), options: { batchSize: 4, concurrency: 1 } };
    const first = (await handler(job, countdownContext(200_000, 15_000))) as MigrateResult;
    expect(first.status).toBe('continued');
    const next = JSON.parse(Buffer.from(lambda.commandCalls(InvokeCommand)[0].args[0].input.Payload as Uint8Array).toString('utf8')) as MigrateJobInput;
    const second = (await handler(next, plentyOfTime())) as MigrateResult;
    expect(second).toMatchObject({ status: 'complete', totals: { seen: ENTRIES, written: ENTRIES, failed: 0 } });

    process.env.CACHEVAULT_DYNAMODB_TABLE_NAME = copyTarget.tableName;
    try {
      expect(await keyIdsInTable()).toEqual({ k2: ENTRIES });
      const vault = await createCache();
      try {
        for (let i = 0; i < ENTRIES; i += 7) expect(await vault.cache.get(`user:${i}`)).toEqual({ id: i, name: `user ${i}` });
      } finally {
        await vault.close();
      }
    } finally {
      process.env.CACHEVAULT_DYNAMODB_TABLE_NAME = table.tableName;
    }
  });

  it('stops a job that keeps being continued past maxInvocations', async () => {
    const first = (await handler(
      { kind: 'reencrypt', reason: 'loop', options: { batchSize: 4, concurrency: 1, continueWith: 'return', maxInvocations: 1 } },
      countdownContext(200_000, 15_000),
    )) as MigrateResult;
    await expect(handler(first.next, plentyOfTime())).rejects.toThrow(/reached 1 invocations without finishing/);
  });
});
