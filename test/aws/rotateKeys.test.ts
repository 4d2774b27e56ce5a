/**
 * The rotate-keys Lambda against KMS and Secrets Manager over HTTP (moto), with the environment
 * the synthesized Operations stack gives it, driven by the events Secrets Manager sends. A fault
 * proxy between the function and moto makes steps fail the way networks do.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createCache } from '../../client/createCache';
import { parseManifest, type KeyManifest } from '../../client/keys/keyManifest';
import { handler, observability, type RotateResult } from '../../lambda/rotateKeys';
import { lambdaContext } from '../support/awsFakes';
import { FaultProxy, type FaultMode } from '../support/faultProxy';
import { LocalLambdaEndpoint } from '../support/localLambdaEndpoint';
import { createManifestSecret, motoSecrets, testMotoEndpoint } from '../support/motoClients';
import { useMotoDeployment } from '../support/motoDeployment';
import { ROTATION_STEPS, RotationDriver, type RotationStepName } from '../support/rotationDriver';

const ROTATE_KEYS_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:cachevault-dev-rotate-keys';
const MIGRATE_NAME = 'cachevault-dev-migrate';

const proxy = new FaultProxy(testMotoEndpoint);
const lambda = new LocalLambdaEndpoint();
const deployment = useMotoDeployment({ functionNames: { 'cachevault-migrate': MIGRATE_NAME }, awsEndpoint: () => proxy.endpoint });
const saved = { ...process.env };
let sm: SecretsManagerClient;
let driver: RotationDriver;
let addMetric: jest.SpyInstance;

beforeAll(async () => {
  await proxy.start();
  await lambda.start();
  lambda.register(MIGRATE_NAME, async (event) => event);
  sm = motoSecrets();
  driver = new RotationDriver(sm, deployment.data.secretArn, ROTATE_KEYS_ARN);
  Object.assign(process.env, deployment.handlerEnv('cachevault-rotate-keys', { AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint }));
  observability.logger.setLogLevel('SILENT');
});
afterAll(async () => {
  process.env = saved;
  sm.destroy();
  await proxy.stop();
  await lambda.stop();
});
beforeEach(() => {
  addMetric = jest.spyOn(observability.metrics, 'addMetric');
  proxy.heal();
});
afterEach(() => jest.restoreAllMocks());

const invoke = (step: RotationStepName, token: string) =>
  handler(driver.event(step, token), lambdaContext('cachevault-dev-rotate-keys')) as Promise<RotateResult>;
const failures = () => addMetric.mock.calls.filter(([name]) => name === 'KeyRotationFailures').length;

async function currentManifest(): Promise<KeyManifest | undefined> {
  // VersionStage spelled out: moto 5.2 answers a bare GetSecretValue with the version it created
  // last by PutSecretValue, not the one UpdateSecretVersionStage made AWSCURRENT (AWS: AWSCURRENT).
  const out = await sm.send(new GetSecretValueCommand({ SecretId: deployment.data.secretArn, VersionStage: 'AWSCURRENT' }));
  return out.SecretString && out.SecretString !== '{}' ? parseManifest(out.SecretString, 'test') : undefined;
}
const versionStates = (m: KeyManifest | undefined) => (m?.versions ?? []).map((v) => `${v.id}:${v.state}`);

async function rotate(): Promise<string> {
  const token = await driver.stage();
  for (const step of ROTATION_STEPS) await invoke(step, token);
  return token;
}

describe('rotate-keys driven by Secrets Manager rotation events (moto)', () => {
  it('takes the placeholder secret through the four steps to k1, visible to clients only after finishSecret, and starts the re-encryption', async () => {
    const token = await driver.stage();
    await expect(invoke('createSecret', token)).resolves.toMatchObject({ keyId: 'k1', changed: true });
    expect((await driver.stages())[token]).toEqual(['AWSPENDING']);
    expect(await currentManifest()).toBeUndefined();
    await expect(invoke('setSecret', token)).resolves.toMatchObject({ keyId: 'k1' });
    await expect(invoke('testSecret', token)).resolves.toMatchObject({ keyId: 'k1' });
    await expect(invoke('finishSecret', token)).resolves.toMatchObject({ keyId: 'k1', changed: true, reencryptionStarted: true });

    expect((await driver.stages())[token]).toContain('AWSCURRENT');
    expect(versionStates(await currentManifest())).toEqual(['k1:active']);
    // Sealed with the stack's manifest MAC key (CACHEVAULT_KEYS_KMS_MAC_KEY_ID), through KMS.
    const macKeyUuid = deployment.data.manifestMacKeyArn.split('/').pop()!;
    expect((await currentManifest())?.mac?.keyRef).toEqual(expect.stringMatching(new RegExp(`^kms:.*${macKeyUuid}$`)));
    expect(proxy.seen).toEqual(expect.arrayContaining(['TrentService.GenerateMac', 'TrentService.VerifyMac']));
    const started = lambda.invocations.at(-1);
    expect(started).toMatchObject({ functionName: MIGRATE_NAME, invocationType: 'Event', event: { kind: 'reencrypt' } });
    expect(failures()).toBe(0);
  });

  it('a second rotation makes k2 active and k1 decrypt-only; an app keeps reading what it wrote under k1 and writes under k2', async () => {
    const app = await createCache();
    await app.cache.set('written-under-k1', { n: 1 });
    expect(app.keys?.status().activeKeyId).toBe('k1');
    await app.close();

    const token = await rotate();
    expect(await driver.versionWith('AWSCURRENT')).toBe(token);
    expect(versionStates(await currentManifest())).toEqual(['k1:decrypt-only', 'k2:active']);

    const next = await createCache();
    await expect(next.cache.get('written-under-k1')).resolves.toEqual({ n: 1 });
    await next.cache.set('written-under-k2', 2);
    expect(next.keys?.status().activeKeyId).toBe('k2');
    await expect(next.cache.get('written-under-k2')).resolves.toBe(2);
    await next.close();
  });

  it('repeating any step after it succeeded changes nothing (Secrets Manager may deliver a step twice)', async () => {
    const token = await driver.stage();
    for (const step of ROTATION_STEPS) {
      const first = await invoke(step, token);
      const again = await invoke(step, token);
      expect(again.changed).toBe(false);
      if (step === 'createSecret') expect(again.keyId).toBe(first.keyId);
    }
    expect(versionStates(await currentManifest())).toEqual(['k1:decrypt-only', 'k2:decrypt-only', 'k3:active']);
  });

  // The fault hits the step's last call to a service, so the step fails after part of its work.
  const faults: ReadonlyArray<[RotationStepName, string, FaultMode]> = [
    ['createSecret', 'secretsmanager.PutSecretValue', 'lose-response'],
    ['createSecret', 'TrentService.GenerateDataKey', 'refuse'],
    ['setSecret', 'secretsmanager.GetSecretValue', 'refuse'],
    ['testSecret', 'TrentService.Decrypt', 'lose-response'],
    ['finishSecret', 'secretsmanager.UpdateSecretVersionStage', 'refuse'],
    ['finishSecret', 'secretsmanager.UpdateSecretVersionStage', 'lose-response'],
  ];
  it.each(faults)('a rotation whose %s failed (%s: %s) completes when Secrets Manager retries it, with exactly one new version', async (failing, target, mode) => {
    const before = await currentManifest();
    const token = await driver.stage();
    const invocationsBefore = lambda.invocations.length;
    for (const step of ROTATION_STEPS) {
      if (step === failing) {
        proxy.fail(target, mode);
        await expect(invoke(step, token)).rejects.toThrow();
        expect(proxy.faulted).toContain(target);
        expect(failures()).toBe(1);
        proxy.heal();
      }
      await invoke(step, token);
    }
    const after = await currentManifest();
    expect(after?.versions).toHaveLength((before?.versions.length ?? 0) + 1);
    expect(await driver.versionWith('AWSCURRENT')).toBe(token);
    // The sweep of entries under the old version starts once, whichever finishSecret got through.
    const started = lambda.invocations.slice(invocationsBefore).filter((i) => i.functionName === MIGRATE_NAME);
    expect(started).toHaveLength(1);
  });

  it('two deliveries of createSecret racing for one token leave one pending version, and the rotation completes with one new version', async () => {
    const before = await currentManifest();
    const token = await driver.stage();
    const results = await Promise.allSettled([invoke('createSecret', token), invoke('createSecret', token)]);
    expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
    for (const step of ROTATION_STEPS) await invoke(step, token);
    const after = await currentManifest();
    expect(after?.versions).toHaveLength((before?.versions.length ?? 0) + 1);
    // Whichever wrapped key won, the promoted version unwraps (testSecret ran on it) and clients can use it.
    const app = await createCache();
    await app.cache.set('after-race', 'ok');
    await expect(app.cache.get('after-race')).resolves.toBe('ok');
    await app.close();
  });

  it('a cancelled rotation (its token no longer AWSPENDING) is refused at its next step and never promoted, after a new one finished', async () => {
    const before = await currentManifest();
    const first = await driver.stage();
    await invoke('createSecret', first);
    await driver.cancel(first);
    const second = await rotate();
    await expect(invoke('setSecret', first)).rejects.toThrow(/not staged AWSPENDING/);
    await expect(invoke('finishSecret', first)).rejects.toThrow(/not staged AWSPENDING/);
    expect(await driver.versionWith('AWSCURRENT')).toBe(second);
    expect((await currentManifest())?.versions).toHaveLength((before?.versions.length ?? 0) + 1);
  });

});

describe('rotate-keys racing another writer of the manifest (moto)', () => {
  // A secret of its own: moto 5.2 keeps treating the version a plain PutSecretValue made as the
  // default after UpdateSecretVersionStage moved AWSCURRENT away, so a PutSecretValue after a
  // finished rotation leaves two versions labelled AWSCURRENT (AWS moves the label). Here the
  // operator's write is the secret's first since the placeholder, which moto handles as AWS does.
  let secretArn: string;
  let own: RotationDriver;
  beforeAll(async () => {
    secretArn = await createManifestSecret(sm);
    own = new RotationDriver(sm, secretArn, ROTATE_KEYS_ARN);
    process.env.CACHEVAULT_KEYS_MANIFEST_SECRET_ID = secretArn;
  });
  afterAll(() => {
    process.env.CACHEVAULT_KEYS_MANIFEST_SECRET_ID = deployment.data.secretArn;
  });

  it('a rotation that began before an operator activated a version is refused at setSecret instead of replacing it', async () => {
    const app = await createCache();
    await app.cache.set('x', 1); // k1, the first version
    await app.close();
    const token = await own.stage();
    await expect(handler(own.event('createSecret', token), lambdaContext('cachevault-dev-rotate-keys'))).resolves.toMatchObject({ keyId: 'k2' });
    // Meanwhile an operator rotates through the client (cachevault encryption rotate): also k2.
    const operator = await createCache();
    const { current } = await operator.keys!.rotate();
    await operator.close();
    expect(current).toBe('k2');
    await expect(handler(own.event('setSecret', token), lambdaContext('cachevault-dev-rotate-keys'))).rejects.toThrow(
      // Either check catches it: the pending manifest is not newer than the current one, or its version id is taken.
      /is not above the current|already exists in the current manifest/,
    );
    expect(failures()).toBe(1);
    expect(await own.versionWith('AWSCURRENT')).not.toBe(token);
    const reader = await createCache();
    await expect(reader.cache.get('x')).resolves.toBe(1);
    expect(reader.keys?.status().activeKeyId).toBe('k2');
    await reader.close();
  });
});
