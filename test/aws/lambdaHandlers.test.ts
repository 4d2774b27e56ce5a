/**
 * The health and migrate Lambdas with the events AWS sends them, the environment the synthesized
 * Operations stack gives each, KMS and Secrets Manager on moto and the table on DynamoDB Local.
 * Every request goes through a recording proxy, so the test sees which API operations a handler
 * really makes; migrate's self-invocations go to a local Lambda Invoke endpoint that runs the next
 * invocation in this process.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { GetSecretValueCommand, ListSecretVersionIdsCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createCache } from '../../client/createCache';
import { parseManifest } from '../../client/keys/keyManifest';
import { handler as healthHandler, observability as healthObservability, type HealthResult } from '../../lambda/health';
import { handler as migrateHandler, observability as migrateObservability } from '../../lambda/migrate';
import { handler as rotateHandler, observability as rotateObservability } from '../../lambda/rotateKeys';
import { CacheActions } from '../../lib/constructs/cacheAccess';
import { lambdaContext } from '../support/awsFakes';
import { testDynamoEndpoint } from '../support/dynamoTestTable';
import { FaultProxy } from '../support/faultProxy';
import { LocalLambdaEndpoint } from '../support/localLambdaEndpoint';
import { motoSecrets, testMotoEndpoint } from '../support/motoClients';
import { useMotoDeployment } from '../support/motoDeployment';
import { ROTATION_STEPS, RotationDriver } from '../support/rotationDriver';
import { functionLogicalId, synthesizeEnvironment } from '../support/synthesizedStacks';

const MIGRATE_NAME = 'cachevault-dev-migrate';
const awsProxy = new FaultProxy(testMotoEndpoint);
const dynamoProxy = new FaultProxy(testDynamoEndpoint);
const lambda = new LocalLambdaEndpoint();
const deployment = useMotoDeployment({ functionNames: { 'cachevault-migrate': MIGRATE_NAME }, awsEndpoint: () => awsProxy.endpoint });
const saved = { ...process.env };
/** Entries the health tests' app wrote (under k1, in the same table), when those tests ran. */
let healthEntries = 0;

/** The environment of function `service` with DynamoDB behind the recording proxy. */
function useHandlerEnv(service: 'cachevault-health' | 'cachevault-rotate-keys' | 'cachevault-migrate'): void {
  process.env = {
    ...saved,
    ...deployment.handlerEnv(service, {
      CACHEVAULT_DYNAMODB_ENDPOINT: dynamoProxy.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamoProxy.endpoint,
      AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint,
    }),
  };
}

/**
 * A Lambda context whose clock is the work done: each DynamoDB request the invocation makes costs
 * `msPerRequest` of its `budgetMs`, so the wind-down comes after the same amount of work however
 * fast this machine is.
 */
function workContext(functionName: string, budgetMs: number, msPerRequest: number): Context {
  const start = dynamoProxy.seen.length;
  return lambdaContext(functionName, () => Math.max(0, budgetMs - msPerRequest * (dynamoProxy.seen.length - start))) as unknown as Context;
}

beforeAll(async () => {
  await awsProxy.start();
  await dynamoProxy.start();
  await lambda.start();
  for (const obs of [healthObservability, migrateObservability, rotateObservability]) obs.logger.setLogLevel('SILENT');
});
afterEach(async () => {
  awsProxy.heal();
  await awsProxy.restore();
});
afterAll(async () => {
  process.env = saved;
  await awsProxy.stop();
  await dynamoProxy.stop();
  await lambda.stop();
});

/** What EventBridge Scheduler sends a Lambda target (the schedule's default input). */
const schedulerEvent = () => ({
  version: '0',
  id: randomUUID(),
  'detail-type': 'Scheduled Event',
  source: 'aws.scheduler',
  account: '123456789012',
  time: new Date().toISOString(),
  region: 'us-east-1',
  resources: ['arn:aws:scheduler:us-east-1:123456789012:schedule/default/cachevault-dev-health'],
  detail: '{}',
});

describe('health, invoked by EventBridge Scheduler', () => {
  beforeAll(async () => {
    useHandlerEnv('cachevault-health');
    // The first rotation has run (k1 exists) and an app wrote a few entries.
    const app = await createCache();
    for (let i = 0; i < 5; i++) await app.cache.set(`h${i}`, i);
    healthEntries = 5;
    await app.close();
  });

  it('reports a healthy cache, using only the table operations its role grants', async () => {
    useHandlerEnv('cachevault-health');
    const seen = dynamoProxy.seen.length;
    const seenAws = awsProxy.seen.length;
    const result = (await healthHandler(schedulerEvent(), lambdaContext('cachevault-dev-health'))) as HealthResult;
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result).toMatchObject({ healthy: true, activeKeyId: 'k1' });
    // It verified the manifest's MAC with the stack's MAC key and made none (its role has VerifyMac only).
    const macCalls = awsProxy.seen.slice(seenAws).filter((t) => /^TrentService\.\w+Mac$/.test(t));
    expect([...new Set(macCalls)]).toEqual(['TrentService.VerifyMac']);

    const operations = [...new Set(dynamoProxy.seen.slice(seen).map((t) => `dynamodb:${t.replace(/^DynamoDB_\d+\./, '')}`))].sort();
    expect(operations.length).toBeGreaterThan(2);
    // Every operation is one the stack grants the health role (and nothing it grants goes unused
    // except the lookups the health check may skip).
    const granted = healthRoleTableActions();
    expect(operations.filter((op) => !granted.includes(op))).toEqual([]);
    expect(granted).toEqual([...CacheActions.healthCheckTable].sort());
  });

  it('reports (not throws) an unhealthy cache while KMS is unreachable, and healthy again once it is back', async () => {
    useHandlerEnv('cachevault-health');
    for (const target of ['TrentService.Decrypt', 'TrentService.GenerateDataKey']) awsProxy.fail(target, 'refuse');
    const down = (await healthHandler(schedulerEvent(), lambdaContext('cachevault-dev-health'))) as HealthResult;
    expect(down.healthy).toBe(false);
    expect(down.checks.some((c) => !c.ok && c.name.startsWith('keys'))).toBe(true);
    expect(down.checks.filter((c) => ['write', 'read', 'delete'].includes(c.name)).every((c) => c.ok)).toBe(true);
    awsProxy.heal();
    const up = (await healthHandler(schedulerEvent(), lambdaContext('cachevault-dev-health'))) as HealthResult;
    expect(up.healthy).toBe(true);
  });
});

/** The health role's DynamoDB actions in the synthesized dev Operations template. */
function healthRoleTableActions(): string[] {
  const template = synthesizeEnvironment('dev').operations;
  const fn = template.Resources[functionLogicalId(template, 'cachevault-health')];
  const roleId = (fn.Properties?.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties?.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((r) => (r.Properties?.PolicyDocument as { Statement: Array<{ Action: string | string[] }> }).Statement)
    .flatMap((s) => [s.Action].flat())
    .filter((a) => a.startsWith('dynamodb:'))
    .sort();
}

describe('migrate, started by a rotation and continuing itself', () => {
  const clients: SecretsManagerClient[] = [];
  const sm2 = () => clients[0] ?? (clients[0] = motoSecrets());
  afterAll(() => clients.forEach((c) => c.destroy()));
  const ENTRIES = 200;
  const results: unknown[] = [];

  beforeAll(async () => {
    useHandlerEnv('cachevault-migrate');
    const app = await createCache();
    for (let i = 0; i < ENTRIES; i++) await app.cache.set(`m${i}`, { i });
    await app.close();
    // Each invocation has 11.5 s, and each DynamoDB request costs 100 ms of it: after about 55
    // requests 6 s are left (windDownMs; the handler's own hard stop is at 5 s), so the job
    // checkpoints and invokes itself again. 200 entries take about 120 requests.
    lambda.register(MIGRATE_NAME, async (event) => {
      useHandlerEnv('cachevault-migrate');
      const job = { ...(event as Record<string, unknown>), options: { batchSize: 5, concurrency: 1, windDownMs: 6_000, ...((event as { options?: object }).options ?? {}) } };
      const result = await migrateHandler(job, workContext(MIGRATE_NAME, 11_500, 100));
      results.push(result);
      return result;
    });
  });

  it('re-encrypts every entry under the new key over several invocations, retires the old key, and loses nothing', async () => {
    // The rotation, as Secrets Manager drives it; finishSecret starts the job.
    useHandlerEnv('cachevault-rotate-keys');
    const sm = motoSecrets();
    const driver = new RotationDriver(sm, deployment.data.secretArn, 'arn:aws:lambda:us-east-1:123456789012:function:cachevault-dev-rotate-keys');
    const token = await driver.stage();
    for (const step of ROTATION_STEPS) await rotateHandler(driver.event(step, token), lambdaContext('cachevault-dev-rotate-keys'));
    sm.destroy();
    await lambda.drain();

    const invocations = lambda.invocations.filter((i) => i.functionName === MIGRATE_NAME);
    expect(invocations.length).toBeGreaterThan(1);
    expect(invocations[0].event).toMatchObject({ kind: 'reencrypt' });
    expect(invocations.slice(1).every((i) => (i.event as { continuation?: { invocation: number } }).continuation !== undefined)).toBe(true);
    const outcomes = await Promise.all(invocations.map((i) => i.done));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const last = results.at(-1) as { status: string; totals: { written: number; failed: number }; retiredKeyIds?: string[] };
    expect(last).toMatchObject({ status: 'complete', totals: { written: ENTRIES + healthEntries, failed: 0 }, retiredKeyIds: ['k1'] });
    expect(results.slice(0, -1).every((r) => (r as { status: string }).status === 'continued')).toBe(true);

    // The job's retirement is the manifest version it wrote last. (Read by version id: after a
    // rotation moto keeps AWSCURRENT on the promoted version too when a plain PutSecretValue
    // follows, see docs/operations.md; AWS moves the label.)
    const versions = await sm2().send(new ListSecretVersionIdsCommand({ SecretId: deployment.data.secretArn }));
    const manifests = [];
    for (const v of versions.Versions ?? []) {
      const text = (await sm2().send(new GetSecretValueCommand({ SecretId: deployment.data.secretArn, VersionId: v.VersionId }))).SecretString;
      if (text && text !== '{}') manifests.push(parseManifest(text, `version ${v.VersionId}`));
    }
    const newest = manifests.sort((a, b) => b.revision - a.revision)[0];
    expect(newest?.versions.map((v) => `${v.id}:${v.state}`)).toEqual(['k1:retired', 'k2:active']);

    useHandlerEnv('cachevault-migrate');
    const reader = await createCache();
    for (let i = 0; i < ENTRIES; i++) await expect(reader.cache.get(`m${i}`)).resolves.toEqual({ i });
    await reader.close();
  });
});
